/**
 * Reading a Django project's database for the import: `auth_user` and Django OAuth Toolkit's tables, from
 * SQLite (opened read-only: never switched to WAL, never written) or PostgreSQL (one read-only
 * transaction), in one consistent snapshot, so that a Django app still running on it cannot tear the read.
 */
import { redactUrl } from '../store/kysely/connect.js'

/** Reading Django's database failed (its message names the database, without a password). */
export class DjangoSourceError extends Error {}

/** A row of `auth_user`, as the import reads it. */
export interface DjangoUserRow {
  id: string
  username: string
  password: string
  isActive: boolean
  dateJoined: number
}

/** A row of `oauth2_provider_application`. */
export interface DjangoApplicationRow {
  id: string
  clientId: string
  clientSecret: string
  clientType: string
  grantType: string
  name: string
  redirectUris: string
  skipAuthorization: boolean
  created: number
}

/** A row of `oauth2_provider_accesstoken`; `token` is `null` when DOT keeps no token in clear. */
export interface DjangoAccessTokenRow {
  id: string
  userId: string | null
  token: string | null
  applicationId: string
  expires: number
  scope: string
  created: number
}

/** A row of `oauth2_provider_refreshtoken`. */
export interface DjangoRefreshTokenRow {
  id: string
  userId: string
  token: string | null
  applicationId: string
  accessTokenId: string | null
  revoked: number | null
  created: number
}

/** Everything the import reads, from one snapshot. */
export interface DjangoSnapshot {
  users: DjangoUserRow[]
  applications: DjangoApplicationRow[]
  accessTokens: DjangoAccessTokenRow[]
  refreshTokens: DjangoRefreshTokenRow[]
  /** Whether DOT keeps its tokens in clear (`token` columns); a DOT keeping only hashes has none. */
  tokensInClear: boolean
}

type Row = Record<string, unknown>

/** Runs the reads of one snapshot: `columns` lists a table's columns, `all` runs a query. */
interface Reader {
  columns: (table: string) => Promise<Set<string>>
  all: (query: string) => Promise<Row[]>
}

const USERS = 'select id, username, password, is_active, date_joined from auth_user order by id'
const APPLICATIONS = `select id, client_id, client_secret, client_type, authorization_grant_type, name, redirect_uris,
  skip_authorization, created from oauth2_provider_application order by id`

/**
 * Django writes datetimes to SQLite as `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC (with `USE_TZ = True`, its
 * default since 5.0 and in every `startproject` before); PostgreSQL hands back a `Date`.
 */
export function djangoTime (value: unknown): number {
  if (value instanceof Date) return value.getTime()
  const text = String(value)
  const zone = /([+-]\d\d:?\d\d|Z)$/.test(text) ? '' : 'Z'
  const time = Date.parse(`${text.replace(' ', 'T')}${zone}`)
  if (Number.isNaN(time)) throw new Error(`unreadable Django datetime ${JSON.stringify(text)}`)
  return time
}

/** SQLite's 0/1 or PostgreSQL's boolean. */
function bool (value: unknown): boolean {
  return value === true || value === 1
}

/** A nullable column (ids are numbers on SQLite, strings for PostgreSQL's bigint: strings here). */
function optional (value: unknown): string | null {
  return value === null ? null : String(value)
}

async function snapshot ({ columns, all }: Reader): Promise<DjangoSnapshot> {
  const accessColumns = await columns('oauth2_provider_accesstoken')
  const refreshColumns = await columns('oauth2_provider_refreshtoken')
  if (accessColumns.size === 0 || (await columns('auth_user')).size === 0) {
    throw new Error('this is not a Django OAuth Toolkit database: auth_user or oauth2_provider_accesstoken is missing')
  }
  const tokensInClear = accessColumns.has('token') && refreshColumns.has('token')
  const token = tokensInClear ? 'token' : 'null as token'
  const users = (await all(USERS)).map((r): DjangoUserRow => ({
    id: String(r.id),
    username: String(r.username),
    password: String(r.password),
    isActive: bool(r.is_active),
    dateJoined: djangoTime(r.date_joined)
  }))
  const applications = (await all(APPLICATIONS)).map((r): DjangoApplicationRow => ({
    id: String(r.id),
    clientId: String(r.client_id),
    clientSecret: String(r.client_secret),
    clientType: String(r.client_type),
    grantType: String(r.authorization_grant_type),
    name: String(r.name),
    redirectUris: String(r.redirect_uris),
    skipAuthorization: bool(r.skip_authorization),
    created: djangoTime(r.created)
  }))
  const accessTokens = (await all(`select id, user_id, ${token}, application_id, expires, scope, created
    from oauth2_provider_accesstoken order by id`)).map((r): DjangoAccessTokenRow => ({
    id: String(r.id),
    userId: optional(r.user_id),
    token: optional(r.token),
    applicationId: String(r.application_id),
    expires: djangoTime(r.expires),
    scope: String(r.scope),
    created: djangoTime(r.created)
  }))
  const refreshTokens = (await all(`select id, user_id, ${token}, application_id, access_token_id, revoked, created
    from oauth2_provider_refreshtoken order by id`)).map((r): DjangoRefreshTokenRow => ({
    id: String(r.id),
    userId: String(r.user_id),
    token: optional(r.token),
    applicationId: String(r.application_id),
    accessTokenId: optional(r.access_token_id),
    revoked: r.revoked === null ? null : djangoTime(r.revoked),
    created: djangoTime(r.created)
  }))
  return { users, applications, accessTokens, refreshTokens, tokensInClear }
}

/**
 * Reads a snapshot of a Django project's database: `sqlite:<path>` (the file must exist; it is opened
 * read-only, so its journal mode, WAL or not, is left as it is) or `postgres://…` (through the optional `pg`
 * package, in a read-only repeatable-read transaction). Errors never show the URL's password.
 */
export async function readDjango (url: string): Promise<DjangoSnapshot> {
  const sqlite = url.startsWith('sqlite:') && url.length > 'sqlite:'.length
  if (!sqlite && !/^postgres(ql)?:\/\//.test(url)) {
    throw new DjangoSourceError(`unsupported Django database URL "${redactUrl(url)}": expected sqlite:<path> or postgres://…`)
  }
  try {
    return sqlite ? await readSqlite(url.slice('sqlite:'.length)) : await readPostgres(url)
  } catch (err) {
    throw new DjangoSourceError(`cannot read the Django database ${redactUrl(url)}: ${(err as Error).message}`)
  }
}

async function readSqlite (path: string): Promise<DjangoSnapshot> {
  // Loaded here, as openDatabase does: apps that never read a SQLite file never load the native addon.
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    db.exec('begin')
    return await snapshot({
      columns: async (table) => new Set((db.pragma(`table_info(${JSON.stringify(table)})`) as Row[]).map((c) => String(c.name))),
      all: async (query) => db.prepare(query).all() as Row[]
    })
  } finally {
    db.close()
  }
}

async function readPostgres (url: string): Promise<DjangoSnapshot> {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: url })
  try {
    await client.connect()
    await client.query('begin transaction isolation level repeatable read read only')
    return await snapshot({
      columns: async (table) => new Set((await client.query(
        'select column_name from information_schema.columns where table_schema = current_schema() and table_name = $1',
        [table])).rows.map((c: Row) => String(c.column_name))),
      all: async (query) => (await client.query(query)).rows as Row[]
    })
  } finally {
    await client.end()
  }
}
