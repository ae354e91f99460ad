import { setTimeout as delay } from 'node:timers/promises'
import { Migrator, PostgresAdapter, sql } from 'kysely'
import type { Kysely, Selectable } from 'kysely'
import type {
  AccessTokenLookup,
  AccessTokenRecord,
  AuthorizationCodeRecord,
  ClientRecord,
  GrantType,
  NewAuthorizationCode,
  NewToken,
  NewUser,
  OAuth2Store,
  RefreshReuse,
  RevocationEvent,
  RevocationKind,
  SessionRecord,
  ThrottleState,
  TokenRecord,
  UserRecord
} from '../store.js'
import { openDatabase } from './connect.js'
import { listenForRevocations, revocationChannel, revocationPayload } from './revocation-channel.js'
import { OAuth2MigrationProvider, migrationTableNames } from './migrations.js'
import { bearerLookup, type AccessTokenRow, type PgPool, type SqliteHandle } from './bearer-lookup.js'
import { asText, precompiled, type Precompiled } from './precompiled.js'
import { sqliteWorkerOf } from './sqlite-worker.js'
import { TablePrefixPlugin } from './table-prefix-plugin.js'
import { DEFAULT_TABLE_PREFIX } from './tables.js'
import type {
  AuthorizationCodeRow, ClientRow, NewClientRow, NewTokenRow, NewUserRow, OAuth2Tables, SessionRow, ThrottleTable, TokenRow, UserRow
} from './tables.js'

export type { PgPool, SqliteHandle, SqliteStatement } from './bearer-lookup.js'

/** Options of `KyselyStore`. */
export interface KyselyStoreOptions {
  /**
   * The app's Kysely instance, on SQLite or PostgreSQL (`Kysely<any>`: its table types are the app's).
   * The app owns it: the store never destroys it. The store runs its queries and migrations without the
   * instance's plugins (a `CamelCasePlugin` would rename its columns), in the connection's default schema.
   */
  db: Kysely<any>
  /**
   * Prefix of every table, index and migration table the store creates: letters, digits and underscores,
   * not starting with a digit. Default `'oauth2_'`.
   */
  tablePrefix?: string
  /**
   * The better-sqlite3 `Database` under `db`, when `db` is on SQLite: `openDatabase` returns it as
   * `sqlite`. With it the per-request bearer check (`findByAccessTokenHash`) runs one statement prepared
   * once, instead of a query that Kysely builds and better-sqlite3 prepares again on every call, and the
   * checks asked for in one turn of the event loop share one read transaction. It must be the very
   * connection `db` uses, so that the check sees what the store's other queries see. Leave it out on
   * PostgreSQL.
   */
  sqlite?: SqliteHandle
  /**
   * The `pg` Pool under `db`, when `db` is on PostgreSQL: `openDatabase` returns it as `pgPool`. With it
   * the bearer check runs as a named prepared statement, parsed and planned once per connection, instead
   * of a query Kysely builds and PostgreSQL parses on every call, and the checks share queries
   * (`= any($1)`): one lookup query is out at a time, and the next carries every check asked for while it
   * was out (those of one event-loop turn when the server is idle). Leave it out behind a pooler that cannot
   * keep prepared statements (PgBouncer in transaction mode before 1.21). Without either option the check
   * runs a query compiled once, through `db`.
   */
  pgPool?: PgPool
}

const TABLE_PREFIX_PATTERN = /^[a-z_][a-z0-9_]*$/i

/**
 * How long, in all, an operation waits for another connection's SQLite write lock (the CLI, a backup, a
 * second process), and its first and longest pauses. The waiting is asynchronous: `openDatabase` sets no
 * busy timeout, so SQLite answers SQLITE_BUSY at once instead of blocking the event loop, and the store
 * tries again after a pause, doubling it each time, until this much time has passed; then the error
 * stands (a 503 at the routes).
 */
const BUSY_WAIT_MS = 5000
const BUSY_FIRST_PAUSE_MS = 2
const BUSY_LONGEST_PAUSE_MS = 100

/** The store's methods that run statements through Kysely, each retried while SQLite is busy. */
const RETRIED_METHODS = [
  'createUser', 'findUserByUsernameKey', 'findUserById', 'updatePasswordHash', 'createClient', 'findClient',
  'listClients', 'deleteClient', 'updateClientSecret', 'createToken', 'findByRefreshTokenHash',
  'rotateRefreshToken', 'revokeToken', 'revokeFamily', 'revokeClientTokens', 'revokeUserTokens', 'deleteExpiredTokens',
  'hitThrottle', 'getThrottle', 'clearThrottle', 'deleteExpiredThrottles',
  'createAuthorizationCode', 'findAuthorizationCode', 'redeemAuthorizationCode', 'createSession', 'findSession',
  'deleteSession', 'deleteUserSessions', 'deleteExpiredCodesAndSessions'
] as const satisfies ReadonlyArray<keyof OAuth2Store>

/** How often a SQLite store asks whether another connection has written to the file (`watchRevocations`). */
const SQLITE_WATCH_MS = 50

/**
 * On SQLite, revocations by another process (the CLI, a second instance on the same file) cannot be named:
 * `PRAGMA data_version` only tells that another connection committed something. Asked every
 * SQLITE_WATCH_MS, it reports `{ kind: 'all' }` after any such commit, so a cache drops everything and
 * refills from the file. It costs a statement every 50 ms; writes by this connection do not count.
 */
function watchSqliteWrites (sqlite: SqliteHandle, listener: (event: RevocationEvent) => void): () => Promise<void> {
  const version = sqlite.prepare('pragma data_version')
  version.raw(true)
  const read = (): unknown => (version.get() as unknown[])[0]
  let last = read()
  const timer = setInterval(() => {
    let now: unknown
    try {
      now = read()
    } catch {
      // The connection was closed under the watch (the app destroyed it first): nothing more to watch.
      clearInterval(timer)
      now = undefined
    }
    if (now === last) return
    last = now
    listener({ kind: 'all' })
  }, SQLITE_WATCH_MS)
  timer.unref()
  return async () => { clearInterval(timer) }
}

/** Runs `work` until it does not fail with SQLITE_BUSY or BUSY_WAIT_MS have passed in pauses. */
async function retryingWhileBusy<T> (work: () => Promise<T>, waited = 0, pause = BUSY_FIRST_PAUSE_MS): Promise<T> {
  try {
    return await work()
  } catch (err) {
    if (!isSqliteBusy(err) || waited >= BUSY_WAIT_MS) throw err
  }
  await delay(pause)
  return await retryingWhileBusy(work, waited + pause, Math.min(pause * 2, BUSY_LONGEST_PAUSE_MS))
}

/** Whether `error` is SQLite's "database is locked" (`SQLITE_BUSY` and its extended codes). */
function isSqliteBusy (error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY')
}

/** The tables whose rows expire: the column that identifies a row, and the one holding when it ends. */
const EXPIRING_TABLES = {
  tokens: { key: 'id', endsAt: 'expires_at' },
  throttles: { key: 'key', endsAt: 'reset_at' },
  authorization_codes: { key: 'code_hash', endsAt: 'expires_at' },
  sessions: { key: 'id_hash', endsAt: 'expires_at' }
} as const

type ExpiringTable = keyof typeof EXPIRING_TABLES

/** The columns `tokenToRow` fills: the values of the token insert compiled once. */
const TOKEN_COLUMNS = Object.keys(tokenToRow({
  id: '', familyId: '', parentId: null, clientId: '', userId: null, scopes: [], accessTokenHash: '', refreshTokenHash: null,
  accessExpiresAt: 0, refreshExpiresAt: null, createdAt: 0
}))

/** The store's queries of every login, compiled once (see precompiled.ts). */
interface LoginQueries {
  findClient: Precompiled<'id', ClientRow>
  findUserByUsernameKey: Precompiled<'key', UserRow>
  findUserById: Precompiled<'id', UserRow>
  insertToken: Precompiled<string, unknown>
  hitThrottle: Precompiled<'key' | 'start' | 'by' | 'now' | 'resetAt', Pick<Selectable<ThrottleTable>, 'hits' | 'reset_at'>>
  clearThrottle: Precompiled<'key', unknown>
}

/**
 * The reference store, on any database Kysely reaches: tested on SQLite (better-sqlite3) and PostgreSQL.
 * Call `migrate()` once before use (at start-up, or from a deploy step): it creates or updates the
 * store's tables and is a no-op when they are current.
 *
 * Every atomic operation of `OAuth2Store` is one statement or one transaction. On SQLite a transaction
 * holds the file's write lock until it commits, across turns of the event loop, so open a file once per
 * process (`openDatabase`) and share that Kysely instance. Several processes may share the file: an
 * operation that finds another's write lock (SQLITE_BUSY) is tried again after a pause, without blocking
 * the event loop, for up to 5 s. With a connection of the app's own that has a `busy_timeout`, that
 * timeout blocks the thread while it waits, so `openDatabase` sets none.
 */
export class KyselyStore implements OAuth2Store {
  readonly #options: Readonly<Required<Omit<KyselyStoreOptions, 'sqlite' | 'pgPool'>>>
  /** The app's instance without its plugins, for the migrator. */
  readonly #plainDb: Kysely<any>
  /** Whether the database is PostgreSQL (row locks where its MVCC reads would see too old a state). */
  readonly #postgres: boolean
  /** The same with the table prefix plugin: the store's queries name tables without their prefix. */
  readonly #db: Kysely<OAuth2Tables>
  /** The per-request bearer lookup, on the fastest path the options allow (see `bearerLookup`). */
  readonly #findAccessToken: (accessTokenHash: string) => Promise<AccessTokenRow | undefined>
  /** The queries of every login, compiled once. */
  readonly #login: LoginQueries

  /** With `pgPool`: announces a revocation to every store listening on the database (`watchRevocations`). */
  readonly #announce: ((kind: RevocationKind, id: string) => Promise<void>) | null = null

  /**
   * With `pgPool`: every revocation and rotation made through any `KyselyStore` on the same database and
   * table prefix (other server instances, the CLI) reaches `listener` within milliseconds, through
   * PostgreSQL's `LISTEN`/`NOTIFY` on a connection of its own; `{ kind: 'all' }` whenever that connection
   * dropped (it reconnects by itself) or started, since something may have been missed.
   */
  readonly watchRevocations?: (listener: (event: RevocationEvent) => void) => Promise<() => Promise<void>>

  /** Whether the store opened its database itself (`KyselyStore.open`), and so closes it. */
  #ownsDb = false

  /** The better-sqlite3 connection under `db`, if given: its background thread runs the expiry deletes. */
  readonly #sqlite: SqliteHandle | undefined

  /**
   * The one call for a store on a database URL (`sqlite:<path>` or `postgres://…`, as `openDatabase`
   * takes): opens it, wires the store with the fast bearer-lookup handles of its driver (the `sqlite`
   * connection or the `pgPool`), and migrates it unless `migrate: false`. The store owns this database:
   * `close()` destroys it; `db` is the Kysely instance, for the app's own tables.
   */
  static async open (url: string, { tablePrefix, migrate = true }: { tablePrefix?: string, migrate?: boolean } = {}): Promise<KyselyStore> {
    const { db, sqlite, pgPool } = await openDatabase(url)
    try {
      const store = new KyselyStore({ db, sqlite, pgPool, tablePrefix })
      store.#ownsDb = true
      if (migrate) await store.migrate()
      return store
    } catch (err) {
      await db.destroy()
      throw err
    }
  }

  /** The Kysely instance the store runs on (the app's, or the one `KyselyStore.open` made). */
  get db (): Kysely<any> {
    return this.#options.db
  }

  /** Closes the database if the store opened it (`KyselyStore.open`); otherwise the app owns it, and this does nothing. */
  async close (): Promise<void> {
    if (this.#ownsDb) await this.#options.db.destroy()
  }

  /** Checks the options; throws a `TypeError` naming a bad one. Touches no table: see `migrate()`. */
  constructor (options: KyselyStoreOptions) {
    const { db, tablePrefix = DEFAULT_TABLE_PREFIX } = options
    if (typeof db?.withoutPlugins !== 'function') {
      throw new TypeError('KyselyStore: option "db" must be a Kysely instance')
    }
    if (typeof tablePrefix !== 'string' || !TABLE_PREFIX_PATTERN.test(tablePrefix)) {
      throw new TypeError(
        `KyselyStore: option "tablePrefix" must match ${String(TABLE_PREFIX_PATTERN)}, got ${JSON.stringify(tablePrefix)}`)
    }
    if (options.sqlite !== undefined && typeof options.sqlite?.prepare !== 'function') {
      throw new TypeError('KyselyStore: option "sqlite" must be the better-sqlite3 Database under "db"')
    }
    this.#options = Object.freeze({ db, tablePrefix })
    this.#sqlite = options.sqlite
    // Each operation is one statement or one transaction, so trying it again after SQLITE_BUSY is safe.
    for (const name of RETRIED_METHODS) {
      const method = (this[name] as (...args: unknown[]) => Promise<unknown>).bind(this)
      ;(this as Record<string, unknown>)[name] = async (...args: unknown[]) => await retryingWhileBusy(() => method(...args))
    }
    this.#plainDb = db.withoutPlugins()
    this.#postgres = db.getExecutor().adapter instanceof PostgresAdapter
    this.#db = (this.#plainDb as Kysely<OAuth2Tables>).withPlugin(new TablePrefixPlugin(tablePrefix))
    if (options.pgPool !== undefined && typeof options.pgPool?.query !== 'function') {
      throw new TypeError('KyselyStore: option "pgPool" must be the pg Pool under "db"')
    }
    this.#findAccessToken = bearerLookup(this.#db, this.#plainDb, { tablePrefix, sqlite: options.sqlite, pgPool: options.pgPool })
    const plain = this.#plainDb
    const q = this.#db
    const sqlite = options.sqlite
    this.#login = {
      findClient: precompiled(plain, ['id'], (p) => q.selectFrom('clients').selectAll().where('id', '=', asText(p.id)), sqlite),
      findUserByUsernameKey: precompiled(plain, ['key'], (p) => q.selectFrom('users').selectAll().where('username_key', '=', asText(p.key)), sqlite),
      findUserById: precompiled(plain, ['id'], (p) => q.selectFrom('users').selectAll().where('id', '=', asText(p.id)), sqlite),
      insertToken: precompiled(plain, TOKEN_COLUMNS, (p) => q.insertInto('tokens').values(p as NewTokenRow), sqlite),
      hitThrottle: precompiled(plain, ['key', 'start', 'by', 'now', 'resetAt'], (p) => q.insertInto('throttles')
        .values({ key: p.key, hits: p.start, reset_at: p.resetAt })
        .onConflict((oc) => oc.column('key').doUpdateSet((eb) => {
          // Every SET expression reads the row as it was before the update.
          const ended = eb('throttles.reset_at', '<=', p.now)
          const moved = eb('throttles.hits', '+', p.by)
          return {
            hits: eb.case().when(ended).then(p.start).when(moved, '<', 0).then(0).else(moved).end(),
            reset_at: eb.case().when(ended).then(p.resetAt).else(eb.ref('throttles.reset_at')).end()
          }
        }))
        .returning(['hits', 'reset_at']), sqlite),
      clearThrottle: precompiled(plain, ['key'], (p) => q.deleteFrom('throttles').where('key', '=', asText(p.key)), sqlite)
    }
    const pool = options.pgPool
    if (pool !== undefined) {
      const channel = revocationChannel(tablePrefix)
      // After the write: an announcement that fails leaves other caches to their TTL, never the revocation undone.
      this.#announce = async (kind, id) => {
        await sql`select pg_notify(${channel}, ${revocationPayload(kind, id)})`.execute(this.#plainDb).catch(() => {})
      }
      const connect = pool.connect
      if (typeof connect === 'function') {
        this.watchRevocations = async (listener) => await listenForRevocations({ connect: () => connect.call(pool) }, channel, listener)
      }
    } else if (options.sqlite !== undefined) {
      const sqlite = options.sqlite
      this.watchRevocations = async (listener) => watchSqliteWrites(sqlite, listener)
    }
  }

  /**
   * Creates or updates the store's tables by running every pending migration, recorded in
   * `{prefix}migrations`. Safe to run on every start: a no-op when nothing is pending. Rejects with the
   * migration's error when one fails.
   *
   * Several processes may start at once on one SQLite file, where Kysely's migration lock is a no-op:
   * the one that finds the file locked by another's migration (`SQLITE_BUSY`) rolls back, waits, and
   * tries again, and then finds the migrations done. PostgreSQL serialises migrations with a lock.
   */
  async migrate (): Promise<void> {
    const { tablePrefix } = this.#options
    const migrator = new Migrator({
      db: this.#plainDb,
      provider: new OAuth2MigrationProvider(tablePrefix),
      ...migrationTableNames(tablePrefix)
    })
    await retryingWhileBusy(async () => {
      const { error } = await migrator.migrateToLatest()
      if (error !== undefined) throw error
    })
  }

  /** Inserts the user unless its `usernameKey` is taken (one `INSERT … ON CONFLICT DO NOTHING`). */
  async createUser (user: NewUser): Promise<UserRecord | null> {
    const row = await this.#db.insertInto('users')
      .values(userToRow(user))
      .onConflict((oc) => oc.column('username_key').doNothing())
      .returningAll()
      .executeTakeFirst()
    return row === undefined ? null : rowToUser(row)
  }

  /** Finds a user by `usernameKey`. */
  async findUserByUsernameKey (usernameKey: string): Promise<UserRecord | null> {
    const [row] = await this.#login.findUserByUsernameKey({ key: usernameKey })
    return row === undefined ? null : rowToUser(row)
  }

  /** Finds a user by id. */
  async findUserById (id: string): Promise<UserRecord | null> {
    const [row] = await this.#login.findUserById({ id })
    return row === undefined ? null : rowToUser(row)
  }

  /** Replaces a user's password hash. Returns false if no such user. */
  async updatePasswordHash (userId: string, passwordHash: string): Promise<boolean> {
    const result = await this.#db.updateTable('users')
      .set({ password_hash: passwordHash })
      .where('id', '=', userId)
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  /** Inserts a client; rejects with the database's unique-violation error if the id exists. */
  async createClient (client: ClientRecord): Promise<void> {
    await this.#db.insertInto('clients').values(clientToRow(client)).execute()
  }

  /** Finds a client by its `client_id`. */
  async findClient (id: string): Promise<ClientRecord | null> {
    const [row] = await this.#login.findClient({ id })
    return row === undefined ? null : rowToClient(row)
  }

  /** Lists every client, oldest first (ties by id). */
  async listClients (): Promise<ClientRecord[]> {
    const rows = await this.#db.selectFrom('clients').selectAll().orderBy('created_at').orderBy('id').execute()
    return rows.map(rowToClient)
  }

  /**
   * Deletes a client and its tokens in one transaction. The tokens are deleted explicitly rather than by
   * the foreign key's cascade, which SQLite applies only on connections with `PRAGMA foreign_keys = ON`.
   */
  async deleteClient (id: string): Promise<boolean> {
    return await this.#db.transaction().execute(async (trx) => {
      // A write first: on SQLite the transaction takes the write lock at once, not on a later upgrade.
      await trx.deleteFrom('tokens').where('client_id', '=', id).execute()
      await trx.deleteFrom('authorization_codes').where('client_id', '=', id).execute()
      const result = await trx.deleteFrom('clients').where('id', '=', id).executeTakeFirst()
      return result.numDeletedRows > 0n
    }).then(async (deleted) => {
      if (deleted) await this.#announce?.('client', id)
      return deleted
    })
  }

  /** Replaces a client's secret hash. Returns false if no such client. */
  async updateClientSecret (id: string, secretHash: string): Promise<boolean> {
    const result = await this.#db.updateTable('clients')
      .set({ secret_hash: secretHash })
      .where('id', '=', id)
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  /** Inserts a token record; rejects with the database's unique-violation error on a duplicate hash or id. */
  async createToken (token: NewToken): Promise<void> {
    await this.#login.insertToken(tokenToRow(token) as Record<string, unknown>)
  }

  /**
   * The per-request bearer check: the token by its unique access hash joined to its user, in a query
   * compiled once. With `pgPool` or `sqlite` the lookups asked for in one turn of the event loop are
   * fetched together at its end (see `LookupBatch`); on PostgreSQL, while a fetch is out, the lookups asked
   * for wait for it and go together in the next. On PostgreSQL as one named prepared statement, on
   * SQLite as a statement prepared once on that connection, run for each hash inside one read
   * transaction. Sharing the connection, the SQLite lookup also sees the uncommitted writes of any
   * transaction open on it at that moment, the store's or the app's: a token being rotated is refused a
   * moment early, and its successor is found a moment before anyone holds it; a revocation the app then
   * rolls back has refused checks meanwhile.
   */
  async findByAccessTokenHash (accessTokenHash: string): Promise<AccessTokenLookup | null> {
    const row = await this.#findAccessToken(accessTokenHash)
    if (row === undefined) return null
    const user = row.user_id === null || row.user__username === null ? null : { id: row.user_id, username: row.user__username }
    return { token: rowToAccessToken(row), user }
  }

  /** The record whose refresh token hashes to `refreshTokenHash`, whatever its state. */
  async findByRefreshTokenHash (refreshTokenHash: string): Promise<TokenRecord | null> {
    const row = await this.#db.selectFrom('tokens').selectAll().where('refresh_token_hash', '=', refreshTokenHash).executeTakeFirst()
    return row === undefined ? null : rowToToken(row)
  }

  /**
   * The refresh-token exchange in one transaction: a conditional `UPDATE` claims the current record
   * (counting the exchange in `exchanges`), and only a caller whose update changed the row inserts `next`.
   * A concurrent caller's update waits for the other's commit (PostgreSQL re-checks the row under READ
   * COMMITTED; SQLite allows one writer at a time) and then sees the count it left.
   */
  async rotateRefreshToken (currentId: string, next: NewToken, now: number, reuse: RefreshReuse): Promise<boolean> {
    return await this.#db.transaction().execute(async (trx) => {
      // The UPDATE comes first so that SQLite takes the write lock at once: a transaction that read
      // first could not upgrade to writing after another connection's commit (SQLITE_BUSY).
      const claimed = await trx.updateTable('tokens')
        .set((eb) => ({
          rotated_at: sql<number>`coalesce(${sql.ref('rotated_at')}, ${now})`,
          exchanges: eb('exchanges', '+', 1)
        }))
        .where('id', '=', currentId)
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([
          eb('rotated_at', 'is', null),
          eb.and([eb('rotated_at', '>', reuse.since), eb('exchanges', '<', reuse.maxExchanges)])
        ]))
        .executeTakeFirst()
      if (claimed.numUpdatedRows !== 1n) return false
      await trx.insertInto('tokens').values(tokenToRow(next)).execute()
      return true
    }).then(async (rotated) => {
      // The rotated record's access token died: caches elsewhere must drop it.
      if (rotated) await this.#announce?.('token', currentId)
      return rotated
    })
  }

  /** Marks one record revoked, keeping an earlier revocation time. Returns false if no such record. */
  async revokeToken (id: string, now: number): Promise<boolean> {
    const result = await this.#db.updateTable('tokens')
      .set({ revoked_at: sql<number>`coalesce(${sql.ref('revoked_at')}, ${now})` })
      .where('id', '=', id)
      .executeTakeFirst()
    if (result.numUpdatedRows === 0n) return false
    await this.#announce?.('token', id)
    return true
  }

  /** Marks every unrevoked record of a family revoked. Returns how many changed. */
  async revokeFamily (familyId: string, now: number): Promise<number> {
    return await this.#revokeWhere('family_id', familyId, now, 'family')
  }

  /** Marks every unrevoked record of a client revoked. Returns how many changed. */
  async revokeClientTokens (clientId: string, now: number): Promise<number> {
    return await this.#revokeWhere('client_id', clientId, now, 'client')
  }

  /** Marks every unrevoked record of a user revoked. Returns how many changed. */
  async revokeUserTokens (userId: string, now: number): Promise<number> {
    return await this.#revokeWhere('user_id', userId, now, 'user')
  }

  /** Marks every unrevoked record whose `column` is `value` revoked, in one statement, and announces it. */
  async #revokeWhere (column: 'family_id' | 'client_id' | 'user_id', value: string, now: number, kind: RevocationKind): Promise<number> {
    const result = await this.#db.updateTable('tokens')
      .set({ revoked_at: now })
      .where(column, '=', value)
      .where('revoked_at', 'is', null)
      .executeTakeFirst()
    const changed = Number(result.numUpdatedRows)
    if (changed > 0) await this.#announce?.(kind, value)
    return changed
  }

  /**
   * Deletes up to `limit` records whose access and refresh tokens both expired before `now`: those whose
   * `expires_at` (the later expiry, stored on insert) has passed, found through its index.
   */
  async deleteExpiredTokens (now: number, limit: number): Promise<number> {
    return await this.#deleteExpired('tokens', now, limit)
  }

  /**
   * Counts a hit (or takes one back) in one upsert, atomic on both databases: a new or ended window
   * restarts at `max(by, 0)`, otherwise the counter moves by `by`, never below 0.
   */
  async hitThrottle (key: string, windowMs: number, now: number, by: 1 | -1 = 1): Promise<ThrottleState> {
    const start = Math.max(by, 0)
    const [row] = await this.#login.hitThrottle({ key, start, by, now, resetAt: now + windowMs }) as [Pick<Selectable<ThrottleTable>, 'hits' | 'reset_at'>]
    return { count: Number(row.hits), resetAt: Number(row.reset_at) }
  }

  /** The counter of a key, unless absent or ended. */
  async getThrottle (key: string, now: number): Promise<ThrottleState | null> {
    const row = await this.#db.selectFrom('throttles').select(['hits', 'reset_at'])
      .where('key', '=', key).where('reset_at', '>', now).executeTakeFirst()
    return row === undefined ? null : { count: Number(row.hits), resetAt: Number(row.reset_at) }
  }

  /** Forgets a key. */
  async clearThrottle (key: string): Promise<void> {
    await this.#login.clearThrottle({ key })
  }

  /** Deletes up to `limit` ended counters. */
  async deleteExpiredThrottles (now: number, limit: number): Promise<number> {
    return await this.#deleteExpired('throttles', now, limit)
  }

  /** Inserts an authorization code; rejects with the database's unique-violation error on a duplicate hash. */
  async createAuthorizationCode (code: NewAuthorizationCode): Promise<void> {
    await this.#db.insertInto('authorization_codes').values({
      code_hash: code.codeHash,
      client_id: code.clientId,
      user_id: code.userId,
      redirect_uri: code.redirectUri,
      scopes: joinList(code.scopes),
      code_challenge: code.codeChallenge,
      created_at: code.createdAt,
      expires_at: code.expiresAt
    }).execute()
  }

  /** The code whose hash is `codeHash`, whatever its state. */
  async findAuthorizationCode (codeHash: string): Promise<AuthorizationCodeRecord | null> {
    const row = await this.#db.selectFrom('authorization_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst()
    return row === undefined ? null : rowToCode(row)
  }

  /**
   * The code's single use in one transaction, as `rotateRefreshToken`: a conditional `UPDATE` claims the
   * code (a concurrent one waits for the other's commit, then finds it used), and only the caller whose
   * update changed the row inserts the token.
   */
  async redeemAuthorizationCode (codeHash: string, token: NewToken, now: number): Promise<boolean> {
    return await this.#db.transaction().execute(async (trx) => {
      const claimed = await trx.updateTable('authorization_codes')
        .set({ used_at: now, family_id: token.familyId })
        .where('code_hash', '=', codeHash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst()
      if (claimed.numUpdatedRows !== 1n) return false
      await trx.insertInto('tokens').values(tokenToRow(token)).execute()
      return true
    })
  }

  /** Inserts a session; rejects on a duplicate hash. */
  async createSession (session: SessionRecord): Promise<void> {
    await this.#db.insertInto('sessions').values({
      id_hash: session.idHash,
      user_id: session.userId,
      created_at: session.createdAt,
      expires_at: session.expiresAt
    }).execute()
  }

  /**
   * The session whose id hashes to `idHash`, whatever its expiry. On PostgreSQL the read shares the row's
   * lock (`FOR SHARE`): it waits for a transaction that is deleting the session (`deleteUserSessions`) and
   * then finds nothing, where a plain read would see the session as it was before that transaction, while
   * a code stored meanwhile escapes its delete (SQLite runs one writer at a time: no such interleaving).
   */
  async findSession (idHash: string): Promise<SessionRecord | null> {
    const query = this.#db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash)
    const row = await (this.#postgres ? query.forShare() : query).executeTakeFirst()
    return row === undefined ? null : rowToSession(row)
  }

  /** Deletes a session. Returns false if there was none. */
  async deleteSession (idHash: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('sessions').where('id_hash', '=', idHash).executeTakeFirst()
    return result.numDeletedRows > 0n
  }

  /** Deletes a user's sessions and unredeemed authorization codes, in one transaction. */
  async deleteUserSessions (userId: string): Promise<number> {
    return await this.#db.transaction().execute(async (trx) => {
      const sessions = await trx.deleteFrom('sessions').where('user_id', '=', userId).executeTakeFirst()
      const codes = await trx.deleteFrom('authorization_codes').where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirst()
      return Number(sessions.numDeletedRows + codes.numDeletedRows)
    })
  }

  /** Deletes up to `limit` expired codes, then expired sessions up to what is left of it. */
  async deleteExpiredCodesAndSessions (now: number, limit: number): Promise<number> {
    const codes = await this.#deleteExpired('authorization_codes', now, limit)
    return codes + await this.#deleteExpired('sessions', now, limit - codes)
  }

  /**
   * Deletes up to `limit` (rounded up) rows of `table` that ended before `now`, picked by key in a
   * subquery since PostgreSQL has no `DELETE … LIMIT`. Returns how many it deleted.
   */
  async #deleteExpired (table: ExpiringTable, now: number, limit: number): Promise<number> {
    const batch = Math.ceil(limit)
    // SQLite reads a negative LIMIT as none at all.
    if (!(batch > 0)) return 0
    const { key, endsAt } = EXPIRING_TABLES[table]
    const query = this.#db.deleteFrom(table)
      .where(key, 'in', (eb) => eb.selectFrom(table).select(key).where(endsAt, '<', now).limit(batch))
    // On a SQLite file opened by openDatabase the batch runs on its background thread: a batch rewrites a
    // few pages of every index per row, too long to hold the event loop on a big table.
    const worker = sqliteWorkerOf(this.#sqlite)
    if (worker !== null) {
      const { sql, parameters } = query.compile()
      return await worker.run(sql, parameters)
    }
    const result = await query.executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}

function userToRow (user: NewUser): NewUserRow {
  return {
    id: user.id,
    username: user.username,
    username_key: user.usernameKey,
    password_hash: user.passwordHash,
    created_at: user.createdAt
  }
}

function rowToUser (row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    usernameKey: row.username_key,
    passwordHash: row.password_hash,
    createdAt: Number(row.created_at)
  }
}

function clientToRow (client: ClientRecord): NewClientRow {
  return {
    id: client.id,
    name: client.name,
    type: client.type,
    secret_hash: client.secretHash,
    grants: joinList(client.grants),
    scopes: joinList(client.scopes),
    redirect_uris: joinList(client.redirectUris),
    require_consent: client.requireConsent ? 1 : 0,
    refresh_cookie: client.refreshCookie ? 1 : 0,
    origins: joinList(client.origins),
    created_at: client.createdAt
  }
}

function rowToClient (row: ClientRow): ClientRecord {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    secretHash: row.secret_hash,
    grants: splitList(row.grants) as GrantType[],
    scopes: splitList(row.scopes),
    redirectUris: splitList(row.redirect_uris),
    requireConsent: Number(row.require_consent) === 1,
    refreshCookie: Number(row.refresh_cookie) === 1,
    origins: splitList(row.origins),
    createdAt: Number(row.created_at)
  }
}

function rowToCode (row: AuthorizationCodeRow): AuthorizationCodeRecord {
  return {
    codeHash: row.code_hash,
    clientId: row.client_id,
    userId: row.user_id,
    redirectUri: row.redirect_uri,
    scopes: splitList(row.scopes),
    codeChallenge: row.code_challenge,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    usedAt: nullableNumber(row.used_at),
    familyId: row.family_id
  }
}

function rowToSession (row: SessionRow): SessionRecord {
  return {
    idHash: row.id_hash,
    userId: row.user_id,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at)
  }
}

function tokenToRow (token: NewToken): NewTokenRow {
  return {
    id: token.id,
    family_id: token.familyId,
    parent_id: token.parentId,
    client_id: token.clientId,
    user_id: token.userId,
    scopes: joinList(token.scopes),
    access_token_hash: token.accessTokenHash,
    refresh_token_hash: token.refreshTokenHash,
    access_expires_at: token.accessExpiresAt,
    refresh_expires_at: token.refreshExpiresAt,
    expires_at: Math.max(token.accessExpiresAt, token.refreshExpiresAt ?? token.accessExpiresAt),
    created_at: token.createdAt
  }
}

/** The access half of a token row (a bearer lookup's row, or a whole one). */
function rowToAccessToken (row: Omit<AccessTokenRow, 'user__username'>): AccessTokenRecord {
  return {
    id: row.id,
    familyId: row.family_id,
    clientId: row.client_id,
    userId: row.user_id,
    scopes: splitList(row.scopes),
    accessExpiresAt: Number(row.access_expires_at),
    createdAt: Number(row.created_at),
    rotatedAt: nullableNumber(row.rotated_at),
    revokedAt: nullableNumber(row.revoked_at)
  }
}

function rowToToken (row: TokenRow): TokenRecord {
  return {
    ...rowToAccessToken(row),
    parentId: row.parent_id,
    accessTokenHash: row.access_token_hash,
    refreshTokenHash: row.refresh_token_hash,
    refreshExpiresAt: nullableNumber(row.refresh_expires_at)
  }
}

function joinList (items: readonly string[]): string {
  return items.join(' ')
}

function splitList (text: string): string[] {
  return text === '' ? [] : text.split(' ')
}

function nullableNumber (value: number | string | bigint | null): number | null {
  return value === null ? null : Number(value)
}
