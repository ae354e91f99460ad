/**
 * Recipe: move a Django OAuth Toolkit project into the plugin's store, once, from its SQLite database:
 *
 * - users (`auth_user`): active ones with a usable password, keeping their ids and their Django password
 *   hashes; each is re-hashed to argon2id at the user's first login here;
 * - clients (`oauth2_provider_application`): keeping their `client_id`, so the apps already in the field
 *   keep working. DOT 1.x keeps client secrets in clear: the store gets their SHA-256, the secrets stay
 *   the same. DOT ≥ 2.0 hashes them: those clients get a new secret, reported once.
 *
 * Tokens are not moved: users log in again. Running it twice imports nothing twice. Usage, with the
 * plugin's store migrated:
 *
 * ```ts
 * const report = await importFromDjango(new Database('db.sqlite3', { readonly: true }), store)
 * ```
 *
 * For a Django project on PostgreSQL the two queries below are the same SQL: run them with `pg`.
 */
import { createHash, randomBytes } from 'node:crypto'
import type BetterSqlite3 from 'better-sqlite3'
import { importUser, rotateClientSecret, type GrantType, type OAuth2Store } from '../lib/index.js'

/** What was moved, and what was not, and why (never a password hash or a secret). */
export interface ImportReport {
  users: number
  clients: number
  skipped: string[]
  /** Clients whose DOT (≥ 2.0) secret was stored hashed: their new secret, shown this once. */
  newSecrets: Array<{ clientId: string, clientSecret: string }>
}

interface AuthUserRow {
  id: number
  username: string
  password: string
  date_joined: string
}

interface ApplicationRow {
  client_id: string
  client_secret: string
  client_type: string
  name: string
  authorization_grant_type: string
}

/** DOT's grant types that the plugin serves; DOT lets every such app refresh. */
const GRANTS: Record<string, GrantType[]> = {
  password: ['password', 'refresh_token'],
  'client-credentials': ['client_credentials']
}
/** A secret DOT ≥ 2.0 stored with one of Django's password hashers. */
const HASHED_SECRET = /^(pbkdf2_sha256|pbkdf2_sha1|argon2|bcrypt_sha256|bcrypt|scrypt)\$/

/** Django writes `date_joined` as `YYYY-MM-DD HH:MM:SS[.ffffff]`, in UTC. */
function joinedAt (value: string): number | undefined {
  const time = Date.parse(`${value.replace(' ', 'T')}Z`)
  return Number.isNaN(time) ? undefined : time
}

export async function importFromDjango (django: BetterSqlite3.Database, store: OAuth2Store): Promise<ImportReport> {
  const report: ImportReport = { users: 0, clients: 0, skipped: [], newSecrets: [] }

  // Inactive users could not log in to Django, and "!…" is Django's unusable password: leave both behind.
  const users = django.prepare(`select id, username, password, date_joined from auth_user
    where is_active = 1 and password not like '!%' order by id`).all() as AuthUserRow[]
  for (const row of users) {
    try {
      const user = await importUser(store, { id: row.id, username: row.username, passwordHash: row.password, createdAt: joinedAt(row.date_joined) })
      if (user === null) report.skipped.push(`user ${row.id} "${row.username}": the username is taken (unique case-insensitively here)`)
      else report.users++
    } catch (err) {
      report.skipped.push(`user ${row.id} "${row.username}": ${(err as Error).message}`)
    }
  }

  const applications = django.prepare(`select client_id, client_secret, client_type, name, authorization_grant_type
    from oauth2_provider_application order by id`).all() as ApplicationRow[]
  for (const app of applications) {
    const grants = GRANTS[app.authorization_grant_type]
    const type = app.client_type === 'confidential' ? 'confidential' : 'public'
    if (grants === undefined || (type === 'public' && grants.includes('client_credentials'))) {
      report.skipped.push(`client ${app.client_id}: the ${type} ${app.authorization_grant_type} grant is not served here`)
      continue
    }
    if (await store.findClient(app.client_id) !== null) {
      report.skipped.push(`client ${app.client_id}: already imported`)
      continue
    }
    const hashed = HASHED_SECRET.test(app.client_secret)
    // A DOT ≥ 2.0 secret cannot be turned into a SHA-256: a random placeholder, replaced just below.
    const secret = hashed ? randomBytes(32).toString('base64url') : app.client_secret
    await store.createClient({
      id: app.client_id,
      name: app.name === '' ? app.client_id : app.name,
      type,
      secretHash: type === 'confidential' ? createHash('sha256').update(secret, 'utf8').digest('hex') : null,
      grants,
      scopes: [],
      redirectUris: [],
      requireConsent: false,
      refreshCookie: false,
      origins: [],
      createdAt: Date.now()
    })
    report.clients++
    if (type === 'confidential' && hashed) {
      report.newSecrets.push({ clientId: app.client_id, clientSecret: (await rotateClientSecret(store, app.client_id))! })
    }
  }
  return report
}
