/**
 * `importFromDjango`: moves a Django OAuth Toolkit project into the plugin's store, users, applications and
 * live tokens, so that nobody logs in again at the cut-over. Idempotent: a second run brings what changed
 * in Django since the first (new users, changed passwords, new and revoked tokens).
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { Kysely } from 'kysely'
import { checkRedirectUri } from '../clients.js'
import { DJANGO_ARGON2_PREFIX, DJANGO_PBKDF2_ALGORITHM, parseDjangoPbkdf2Hash } from '../crypto/django-hashes.js'
import { hashToken } from '../crypto/tokens.js'
import { isReadableHash } from '../import-user.js'
import { MAX_USERNAME_LENGTH } from '../options.js'
import { KyselyStore } from '../store/kysely/kysely-store.js'
import type { ClientType, GrantType, NewToken, OAuth2Store } from '../store/store.js'
import { normalizeUsername, usernameKey, type NormalizedUsername } from '../users.js'
import {
  readDjango,
  type DjangoAccessTokenRow,
  type DjangoApplicationRow,
  type DjangoRefreshTokenRow,
  type DjangoSnapshot,
  type DjangoUserRow
} from './source.js'

/** What to do with a username that differs from another one only by case (`Pony`, `pony`). */
export type CollisionRemedy = 'rename' | 'refuse'

/**
 * Runs a batch of writes in one transaction of the store's database, on a store bound to it. For a
 * `KyselyStore`: `kyselyTransaction(db)`. Without it every write commits on its own (slower on SQLite).
 */
export type StoreTransaction = (work: (store: OAuth2Store) => Promise<void>) => Promise<void>

/** Options of `importFromDjango`. */
export interface DjangoImportOptions {
  /** Django's database: `sqlite:<path>` (opened read-only) or `postgres://…`. */
  from: string
  /** The plugin's store, migrated. */
  store: OAuth2Store
  /** Batches the writes in transactions (see `kyselyTransaction`). */
  transaction?: StoreTransaction
  /** Read and report, write nothing. Default `false`. */
  dryRun?: boolean
  /**
   * Usernames are unique by case folding here, case-sensitive in Django. `'refuse'` (the default): when any
   * two collide, write nothing and list them. `'rename'`: the user with the lower id keeps the name, the
   * other one becomes `<username>_<id>` (listed in the report).
   */
  onCollision?: CollisionRemedy
  /**
   * Bring clients and tokens only, for an app that keeps Django's `auth_user` (see `djangoUsers`): tokens
   * keep Django's user ids. Default `false`.
   */
  clientsAndTokensOnly?: boolean
  /**
   * Lifetime given to each imported refresh token, in seconds from the import (DOT 1.x refresh tokens do not
   * expire). Default 2 592 000 (30 days, the plugin's `refreshTokenTtl` default).
   */
  refreshTokenTtl?: number
  /** The import's clock, in milliseconds. Default `Date.now()`. */
  now?: number
}

/** How many of one kind were created, updated, left unchanged and skipped. */
export interface ImportCounts {
  created: number
  updated: number
  unchanged: number
  skipped: number
}

/** Something not brought over, and why. `id` is Django's id (a client's `client_id`), never a secret. */
export interface ImportSkip {
  kind: 'user' | 'client' | 'redirect_uri' | 'access_token' | 'refresh_token'
  id: string
  /** The username, or the redirect URI. */
  name?: string
  reason: string
}

/** Two users whose names differ only by case, and what became of the second. */
export interface UsernameCollision {
  id: string
  username: string
  /** Who holds the name: a Django user with a lower id, or a user already in the store. */
  collidesWith: { id: string, username: string }
  /** The new name under `onCollision: 'rename'`; `null` under `'refuse'`. */
  renamedTo: string | null
}

/** What a run did (or, with `dryRun`, would do). Never a password, hash, secret or token. */
export interface DjangoImportReport {
  dryRun: boolean
  /** True when collisions and `onCollision: 'refuse'` stopped the run: nothing was written. */
  refused: boolean
  users: ImportCounts
  clients: ImportCounts
  /** A DOT access token with its refresh token counts once. */
  tokens: ImportCounts
  collisions: UsernameCollision[]
  skipped: ImportSkip[]
  /** Things the operator should know that are not skips. */
  notes: string[]
  /** Wall time of the run, in milliseconds. */
  ms: number
}

type Write = (store: OAuth2Store) => Promise<void>

/** DOT's `authorization_grant_type` and the grants here; DOT lets every app refresh. */
const GRANTS: Record<string, GrantType[]> = {
  password: ['password', 'refresh_token'],
  'client-credentials': ['client_credentials'],
  // With its redirect URIs (those `checkRedirectUri` accepts) and consent setting (`skip_authorization`).
  'authorization-code': ['authorization_code', 'refresh_token']
}
/** A secret DOT ≥ 2.0 stored with one of Django's hashers (DOT 1.x secrets are letters and digits). */
const HASHED_SECRET = /^([a-z0-9_]+)\$/
/** A password hash Django wrote (still to be re-hashed here at the user's first login). */
const DJANGO_HASH = new RegExp(`^(${DJANGO_PBKDF2_ALGORITHM}|${DJANGO_ARGON2_PREFIX})\\$`)
/** What a user disabled by the import gets as a hash: Django's unusable-password mark, which verifies nothing. */
const DISABLED_HASH = '!'
const DJANGO_USERNAME_MAX_LENGTH = 150
const DEFAULT_REFRESH_TTL_S = 30 * 86_400
/** Writes per transaction: large enough to amortise a commit, small enough not to hold a lock for long. */
const BATCH = 500

function counts (): ImportCounts {
  return { created: 0, updated: 0, unchanged: 0, skipped: 0 }
}

/** State of one run. */
class Run {
  readonly report: DjangoImportReport
  readonly writes: Write[] = []
  /** Django user ids that have (or will have) a user here, or (clients and tokens only) an active row. */
  readonly userIds = new Set<string>()
  /** DOT application id → `client_id`, for the applications here. */
  readonly clientIds = new Map<string, string>()

  constructor (readonly store: OAuth2Store, readonly options: DjangoImportOptions, readonly now: number, dryRun: boolean) {
    this.report = {
      dryRun, refused: false, users: counts(), clients: counts(), tokens: counts(), collisions: [], skipped: [], notes: [], ms: 0
    }
  }

  skip (counted: ImportCounts | null, entry: ImportSkip): void {
    if (counted !== null) counted.skipped++
    this.report.skipped.push(entry)
  }
}

/**
 * Reads Django's `auth_user` and DOT's applications and tokens (from `options.from`) and brings them into
 * `options.store`: active users with a usable password (their hashes as they are: re-hashed at first
 * login), applications with their `client_id`, and live access and refresh tokens (stored as SHA-256
 * hashes, so the token strings clients hold keep working). Run it again to bring what changed since.
 */
export async function importFromDjango (options: DjangoImportOptions): Promise<DjangoImportReport> {
  const started = performance.now()
  const { store, dryRun = false, onCollision = 'refuse', clientsAndTokensOnly = false } = options
  if (onCollision !== 'rename' && onCollision !== 'refuse') throw new TypeError('onCollision must be "rename" or "refuse"')
  const ttl = options.refreshTokenTtl ?? DEFAULT_REFRESH_TTL_S
  if (!Number.isSafeInteger(ttl) || ttl < 1) throw new TypeError('refreshTokenTtl must be a positive number of seconds')
  const run = new Run(store, options, options.now ?? Date.now(), dryRun)
  const django = await readDjango(options.from)

  if (clientsAndTokensOnly) {
    for (const user of django.users) if (user.isActive) run.userIds.add(user.id)
  } else {
    await planUsers(run, django.users)
  }
  if (!run.report.refused) {
    await planClients(run, django.applications)
    await planTokens(run, django, ttl * 1000)
    if (!dryRun) await write(run)
  }
  run.report.ms = Math.round(performance.now() - started)
  return run.report
}

async function write (run: Run): Promise<void> {
  const transaction = run.options.transaction ?? (async (work) => await work(run.store))
  for (let i = 0; i < run.writes.length; i += BATCH) {
    const batch = run.writes.slice(i, i + BATCH)
    await transaction(async (store) => {
      for (const one of batch) await one(store)
    })
  }
}

/** Django's `is_password_usable`: an unusable password starts with `!` (and an empty one verifies nothing). */
function usable (password: string): boolean {
  return password !== '' && !password.startsWith('!')
}

/** `<username>_<id>`, cut to Django's (and the plugin's default) 150 characters. */
function renamed (username: string, id: string): string {
  const suffix = `_${id}`
  return [...username].slice(0, DJANGO_USERNAME_MAX_LENGTH - suffix.length).join('') + suffix
}

function unreadable (hash: string): string {
  return `its password hash ("${hash.split('$')[0] as string}") cannot be verified here: the user must reset the password`
}

async function planUsers (run: Run, rows: DjangoUserRow[]): Promise<void> {
  const { store, report } = run
  const counted = report.users
  /** usernameKey → the user holding it here (or about to). */
  const holders = new Map<string, { id: string, username: string }>()
  const fresh: Array<{ row: DjangoUserRow, name: NormalizedUsername }> = []

  for (const row of rows) {
    const existing = await store.findUserById(row.id)
    if (!row.isActive || !usable(row.password)) {
      const reason = row.isActive ? 'no usable password in Django' : 'inactive in Django'
      if (existing !== null && existing.passwordHash !== DISABLED_HASH) {
        // Imported by an earlier run: it must not log in here any more than in Django.
        counted.updated++
        report.notes.push(`user ${row.id} "${row.username}": ${reason}: its password here is disabled and its tokens revoked`)
        run.writes.push(async (s) => {
          await s.updatePasswordHash(row.id, DISABLED_HASH)
          await s.revokeUserTokens(row.id, run.now)
        })
      } else {
        run.skip(counted, { kind: 'user', id: row.id, name: row.username, reason })
      }
      continue
    }
    if (existing !== null) {
      run.userIds.add(row.id)
      holders.set(existing.usernameKey, { id: existing.id, username: existing.username })
      // A hash that is no longer Django's was re-hashed here at a login: the user's password here is newer.
      if (existing.passwordHash === row.password || !DJANGO_HASH.test(existing.passwordHash)) {
        counted.unchanged++
      } else if (!isReadableHash(row.password)) {
        run.skip(counted, { kind: 'user', id: row.id, name: row.username, reason: `${unreadable(row.password)} (its previous one is kept)` })
      } else {
        counted.updated++
        run.writes.push(async (s) => { await s.updatePasswordHash(row.id, row.password) })
      }
      continue
    }
    let name
    try {
      name = normalizeUsername(row.username, MAX_USERNAME_LENGTH)
    } catch (err) {
      run.skip(counted, { kind: 'user', id: row.id, name: row.username, reason: (err as Error).message })
      continue
    }
    if (!isReadableHash(row.password)) {
      run.skip(counted, { kind: 'user', id: row.id, name: row.username, reason: unreadable(row.password) })
      continue
    }
    fresh.push({ row, name })
  }

  const holderOf = async (key: string): Promise<{ id: string, username: string } | undefined> => {
    const held = holders.get(key)
    if (held !== undefined) return held
    const found = await store.findUserByUsernameKey(key)
    return found === null ? undefined : { id: found.id, username: found.username }
  }
  for (const { row, name } of fresh) {
    let { username, usernameKey: key } = name
    const holder = await holderOf(key)
    if (holder !== undefined) {
      const renamedTo = run.options.onCollision === 'rename' ? renamed(username, row.id) : null
      report.collisions.push({ id: row.id, username, collidesWith: holder, renamedTo })
      if (renamedTo === null) continue
      username = renamedTo
      key = usernameKey(renamedTo)
      if (await holderOf(key) !== undefined) {
        run.skip(counted, { kind: 'user', id: row.id, name: row.username, reason: `its new name "${renamedTo}" is taken too` })
        continue
      }
    }
    holders.set(key, { id: row.id, username })
    run.userIds.add(row.id)
    counted.created++
    const user = { id: row.id, username, usernameKey: key, passwordHash: row.password, createdAt: row.dateJoined }
    run.writes.push(async (s) => {
      if (await s.createUser(user) !== null) return
      // Someone signed up with the name between the plan and this write.
      counted.created--
      run.skip(counted, { kind: 'user', id: row.id, name: username, reason: 'the username was taken meanwhile' })
    })
  }
  if (report.collisions.length > 0 && run.options.onCollision !== 'rename') {
    report.refused = true
    run.writes.length = 0
  }
}

async function planClients (run: Run, rows: DjangoApplicationRow[]): Promise<void> {
  const counted = run.report.clients
  for (const app of rows) {
    const grants = GRANTS[app.grantType]
    const type: ClientType = app.clientType === 'confidential' ? 'confidential' : 'public'
    if (grants === undefined || (type === 'public' && grants.includes('client_credentials'))) {
      run.skip(counted, { kind: 'client', id: app.clientId, reason: `the ${type} ${app.grantType} grant is not served here` })
      continue
    }
    if (await run.store.findClient(app.clientId) !== null) {
      run.clientIds.set(app.id, app.clientId)
      counted.unchanged++
      continue
    }
    let secretHash: string | null = null
    if (type === 'confidential') {
      const hasher = HASHED_SECRET.exec(app.clientSecret)?.[1]
      if (hasher !== undefined && parseDjangoPbkdf2Hash(app.clientSecret) === null) {
        run.skip(counted, { kind: 'client', id: app.clientId, reason: `its secret is hashed with ${hasher}, which this version cannot verify` })
        continue
      }
      // DOT ≥ 2.0's PBKDF2 hash is kept, verified at the client's first authentication and re-hashed then.
      secretHash = hasher === undefined ? hashToken(app.clientSecret) : app.clientSecret
    }
    const redirectUris: string[] = []
    for (const uri of app.redirectUris.split(/\s+/).filter((u) => u !== '')) {
      try {
        redirectUris.push(checkRedirectUri(uri))
      } catch (err) {
        run.skip(null, { kind: 'redirect_uri', id: app.clientId, name: uri, reason: (err as Error).message })
      }
    }
    run.clientIds.set(app.id, app.clientId)
    counted.created++
    const client = {
      id: app.clientId,
      name: app.name === '' ? app.clientId : app.name,
      type,
      secretHash,
      grants,
      scopes: [],
      redirectUris,
      requireConsent: !app.skipAuthorization,
      // DOT has no such mode: the refresh token stays in the JSON, as DOT's clients expect.
      refreshCookie: false,
      origins: [],
      createdAt: app.created
    }
    run.writes.push(async (s) => { await s.createClient(client) })
  }
}

function scopes (scope: string): string[] {
  return scope.split(/\s+/).filter((s) => s !== '')
}

/** Why a token of this client and user cannot come over, or `null` when it can. */
function unowned (run: Run, applicationId: string, userId: string | null): string | null {
  if (!run.clientIds.has(applicationId)) return 'its application was not imported'
  if (userId !== null && !run.userIds.has(userId)) return `its user ${userId} was not imported`
  return null
}

async function planTokens (run: Run, django: DjangoSnapshot, refreshTtlMs: number): Promise<void> {
  const counted = run.report.tokens
  if (!django.tokensInClear) {
    run.report.notes.push('DOT keeps only hashes of its tokens: no token can be moved, so users log in again')
    for (const row of django.accessTokens) run.skip(counted, { kind: 'access_token', id: row.id, reason: 'DOT keeps only its hash' })
    return
  }
  const accessById = new Map(django.accessTokens.map((a) => [a.id, a]))
  const paired = new Set<string>()
  for (const refresh of django.refreshTokens) {
    const access = refresh.accessTokenId === null ? undefined : accessById.get(refresh.accessTokenId)
    if (refresh.revoked !== null || access === undefined) {
      await retire(run, refresh)
      continue
    }
    paired.add(access.id)
    await bring(run, access, refresh, refreshTtlMs)
  }
  for (const access of django.accessTokens) {
    if (paired.has(access.id)) continue
    if (access.expires <= run.now) {
      run.skip(counted, { kind: 'access_token', id: access.id, reason: 'expired' })
      continue
    }
    await bring(run, access, null, refreshTtlMs)
  }
}

/** A refresh token DOT revoked (or whose access token it revoked): revoked here too if an earlier run brought it. */
async function retire (run: Run, refresh: DjangoRefreshTokenRow): Promise<void> {
  const counted = run.report.tokens
  const found = await run.store.findByRefreshTokenHash(hashToken(refresh.token as string))
  if (found !== null && found.revokedAt === null && found.rotatedAt === null) {
    counted.updated++
    run.writes.push(async (s) => { await s.revokeToken(found.id, run.now) })
    return
  }
  const reason = refresh.revoked !== null ? 'revoked in Django' : 'its access token was revoked in Django'
  run.skip(counted, { kind: 'refresh_token', id: refresh.id, reason })
}

/** A live DOT token (with its refresh token, if any): created here unless an earlier run brought it. */
async function bring (run: Run, access: DjangoAccessTokenRow, refresh: DjangoRefreshTokenRow | null, refreshTtlMs: number): Promise<void> {
  const counted = run.report.tokens
  const kind = refresh === null ? 'access_token' : 'refresh_token'
  const id = (refresh ?? access).id
  const why = unowned(run, access.applicationId, access.userId)
  if (why !== null) {
    run.skip(counted, { kind, id, reason: why })
    return
  }
  const accessTokenHash = hashToken(access.token as string)
  if (await run.store.findByAccessTokenHash(accessTokenHash) !== null) {
    counted.unchanged++
    return
  }
  const familyId = randomUUID()
  const token: NewToken = {
    id: familyId,
    familyId,
    parentId: null,
    clientId: run.clientIds.get(access.applicationId) as string,
    userId: access.userId,
    scopes: scopes(access.scope),
    accessTokenHash,
    refreshTokenHash: refresh === null ? null : hashToken(refresh.token as string),
    accessExpiresAt: access.expires,
    refreshExpiresAt: refresh === null ? null : run.now + refreshTtlMs,
    createdAt: access.created
  }
  counted.created++
  run.writes.push(async (s) => { await s.createToken(token) })
}

/**
 * Batches the import's writes in transactions of a `KyselyStore`'s database: pass the store's Kysely
 * instance and table prefix.
 */
export function kyselyTransaction (db: Kysely<any>, tablePrefix?: string): StoreTransaction {
  return async (work) => {
    await db.transaction().execute(async (trx) => { await work(new KyselyStore({ db: trx, tablePrefix })) })
  }
}
