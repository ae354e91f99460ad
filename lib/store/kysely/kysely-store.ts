import { setTimeout as delay } from 'node:timers/promises'
import { Migrator, sql } from 'kysely'
import type { CompiledQuery, Kysely } from 'kysely'
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
  SessionRecord,
  ThrottleState,
  TokenRecord,
  UserRecord
} from '../store.js'
import { OAuth2MigrationProvider, migrationTableNames } from './migrations.js'
import { LookupBatch } from './lookup-batch.js'
import { TablePrefixPlugin } from './table-prefix-plugin.js'
import { DEFAULT_TABLE_PREFIX } from './tables.js'
import type {
  AuthorizationCodeRow, ClientRow, NewClientRow, NewTokenRow, NewUserRow, OAuth2Tables, SessionRow, TokenRow, UserRow
} from './tables.js'

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

/** What `KyselyStore` uses of a `pg` Pool (`Pool` from `pg` fits). */
export interface PgPool {
  query (config: { name: string, text: string, values: unknown[] }): Promise<{ rows: unknown[] }>
}

/**
 * What `KyselyStore` uses of a better-sqlite3 `Database` (`Database` from `better-sqlite3` fits): written
 * out here so that the store's types do not depend on better-sqlite3's.
 */
export interface SqliteHandle {
  prepare (source: string): SqliteStatement
  /** Whether a transaction is open on the connection. */
  readonly inTransaction: boolean
}

/** What `KyselyStore` uses of a better-sqlite3 `Statement`. */
export interface SqliteStatement {
  get (...parameters: unknown[]): unknown
  run (...parameters: unknown[]): unknown
  raw (toggle?: boolean): unknown
  columns (): Array<{ name: string }>
}

/**
 * A row of the bearer lookup: the columns of `AccessTokenRecord` and the user's name (null without a user:
 * the column is `not null`, so null means that the left join found no row).
 */
type AccessTokenRow = Pick<TokenRow, 'id' | 'family_id' | 'client_id' | 'user_id' | 'scopes' | 'access_expires_at' |
'created_at' | 'rotated_at' | 'revoked_at'> & { user__username: string | null }

/** Where each column of the bearer lookup sits in a row fetched as an array. */
type ColumnPositions = Record<keyof AccessTokenRow, number>

/**
 * The bearer lookup prepared once on the raw SQLite connection, fetching arrays (cheaper than objects),
 * and the statements of the read transaction that several lookups share.
 */
interface PreparedLookup {
  statement: SqliteStatement
  at: ColumnPositions
  begin: SqliteStatement
  commit: SqliteStatement
}

const TABLE_PREFIX_PATTERN = /^[a-z_][a-z0-9_]*$/i

/** How often `migrate()` tries when another connection holds the SQLite file, and its first wait. */
const MIGRATE_ATTEMPTS = 5
const MIGRATE_RETRY_MS = 100

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

/**
 * The reference store, on any database Kysely reaches: tested on SQLite (better-sqlite3) and PostgreSQL.
 * Call `migrate()` once before use (at start-up, or from a deploy step): it creates or updates the
 * store's tables and is a no-op when they are current.
 *
 * Every atomic operation of `OAuth2Store` is one statement or one transaction. On SQLite a transaction
 * holds the file's write lock until it commits, across turns of the event loop, so open a file once per
 * process (`openDatabase`) and share that Kysely instance. Several processes may share the file: with a
 * `busy_timeout` they wait for each other's locks. Two connections to one file on one thread cannot:
 * one waiting out the busy timeout blocks the thread, and with it the commit it waits for.
 */
export class KyselyStore implements OAuth2Store {
  readonly #options: Readonly<Required<Omit<KyselyStoreOptions, 'sqlite' | 'pgPool'>>>
  /** The app's instance without its plugins, for the migrator. */
  readonly #plainDb: Kysely<any>
  /** The same with the table prefix plugin: the store's queries name tables without their prefix. */
  readonly #db: Kysely<OAuth2Tables>
  /** The bearer lookup, compiled once (dialect, table prefix and all); each call only binds the hash. */
  readonly #accessTokenLookup: CompiledQuery<AccessTokenRow>
  /** With `pgPool` or `sqlite`: the bearer lookups of each event-loop turn (or more), fetched together. */
  readonly #lookups: LookupBatch<AccessTokenRow> | undefined
  /** The bearer lookup prepared on `sqlite`, on first use (the tables may not exist before `migrate()`). */
  #accessTokenStatement: PreparedLookup | undefined

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
    this.#plainDb = db.withoutPlugins()
    this.#db = (this.#plainDb as Kysely<OAuth2Tables>).withPlugin(new TablePrefixPlugin(tablePrefix))
    if (options.pgPool !== undefined && typeof options.pgPool?.query !== 'function') {
      throw new TypeError('KyselyStore: option "pgPool" must be the pg Pool under "db"')
    }
    // Only what the lookup returns: every column read costs (a string made, a field parsed), and the
    // password hash has no business on the per-request path.
    const lookup = this.#db.selectFrom('tokens')
      .leftJoin('users', 'users.id', 'tokens.user_id')
      .select([
        'tokens.id', 'tokens.family_id', 'tokens.client_id', 'tokens.user_id', 'tokens.scopes',
        'tokens.access_expires_at', 'tokens.created_at', 'tokens.rotated_at', 'tokens.revoked_at',
        'users.username as user__username'
      ])
    // cast(): with SQLite's STAT4 statistics (after ANALYZE or `PRAGMA optimize`) a bare parameter
    // compared with an indexed column makes SQLite prepare the statement again for every new value.
    this.#accessTokenLookup = lookup.where('tokens.access_token_hash', '=', sql<string>`cast(${''} as text)`).compile()
    if (options.pgPool !== undefined) {
      const pool = options.pgPool
      // Named prepared statements, one name per table prefix since pg refuses one name for two texts. A
      // lone lookup keeps `= $1`: PostgreSQL plans `= any($1)` for several rows, which costs it more.
      const one = { name: `${tablePrefix}find_by_access_token_hash`, text: this.#accessTokenLookup.sql }
      // Several rows come back in any order: each carries its hash, by which it goes back to who asked.
      const many = {
        name: `${tablePrefix}find_by_access_token_hashes`,
        text: lookup.select('tokens.access_token_hash')
          .where('tokens.access_token_hash', '=', sql<string>`any(cast(${[]} as text[]))`).compile().sql
      }
      // One query out at a time: under load each carries every check asked for while the one before was
      // out (through HTTP here: about 20% less CPU per check and 40% more checks/s than a query per turn).
      this.#lookups = new LookupBatch(async (hashes) => {
        if (hashes.length === 1) return (await pool.query({ ...one, values: hashes })).rows as AccessTokenRow[]
        const { rows } = await pool.query({ ...many, values: [hashes] })
        const byHash = new Map((rows as Array<AccessTokenRow & { access_token_hash: string }>).map((row) => [row.access_token_hash, row]))
        return hashes.map((hash) => byHash.get(hash))
      }, { maxInFlight: 1 })
    } else if (options.sqlite !== undefined) {
      const sqlite = options.sqlite
      this.#lookups = new LookupBatch((hashes) => this.#sqliteLookups(sqlite, hashes))
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
    let { error } = await migrator.migrateToLatest()
    for (let attempt = 1; attempt < MIGRATE_ATTEMPTS && isSqliteBusy(error); attempt++) {
      await delay(MIGRATE_RETRY_MS * attempt)
      ;({ error } = await migrator.migrateToLatest())
    }
    if (error !== undefined) throw error
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
    const row = await this.#db.selectFrom('users').selectAll().where('username_key', '=', usernameKey).executeTakeFirst()
    return row === undefined ? null : rowToUser(row)
  }

  /** Finds a user by id. */
  async findUserById (id: string): Promise<UserRecord | null> {
    const row = await this.#db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
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
    const row = await this.#db.selectFrom('clients').selectAll().where('id', '=', id).executeTakeFirst()
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
    await this.#db.insertInto('tokens').values(tokenToRow(token)).execute()
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
    let row: AccessTokenRow | undefined
    if (this.#lookups !== undefined) {
      row = await this.#lookups.find(accessTokenHash)
    } else {
      const result = await this.#plainDb.executeQuery<AccessTokenRow>({ ...this.#accessTokenLookup, parameters: [accessTokenHash] })
      row = result.rows[0]
    }
    if (row === undefined) return null
    const user = row.user_id === null || row.user__username === null ? null : { id: row.user_id, username: row.user__username }
    return { token: rowToAccessToken(row), user }
  }

  /**
   * The rows of `hashes` on the raw SQLite connection. In WAL mode each statement outside a transaction
   * opens and closes a read transaction, which costs more than the indexed read: several lookups share
   * one (one snapshot), unless the store has a transaction of its own open on the connection, which they
   * then read inside.
   */
  #sqliteLookups (sqlite: SqliteHandle, hashes: string[]): Array<AccessTokenRow | undefined> {
    const lookup = this.#accessTokenStatement ??= prepareLookup(sqlite, this.#accessTokenLookup.sql)
    const rows: Array<AccessTokenRow | undefined> = []
    const read = (): void => {
      for (const hash of hashes) {
        const values = lookup.statement.get(hash) as unknown[] | undefined
        rows.push(values === undefined ? undefined : rowFromValues(values, lookup.at))
      }
    }
    if (hashes.length === 1 || sqlite.inTransaction || !tryBegin(lookup.begin)) {
      read()
    } else {
      try {
        read()
      } finally {
        lookup.commit.run()
      }
    }
    return rows
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
    })
  }

  /** Marks one record revoked, keeping an earlier revocation time. Returns false if no such record. */
  async revokeToken (id: string, now: number): Promise<boolean> {
    const result = await this.#db.updateTable('tokens')
      .set({ revoked_at: sql<number>`coalesce(${sql.ref('revoked_at')}, ${now})` })
      .where('id', '=', id)
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  /** Marks every unrevoked record of a family revoked. Returns how many changed. */
  async revokeFamily (familyId: string, now: number): Promise<number> {
    const result = await this.#db.updateTable('tokens')
      .set({ revoked_at: now })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst()
    return Number(result.numUpdatedRows)
  }

  /** Marks every unrevoked record of a user revoked. Returns how many changed. */
  async revokeUserTokens (userId: string, now: number): Promise<number> {
    const result = await this.#db.updateTable('tokens')
      .set({ revoked_at: now })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst()
    return Number(result.numUpdatedRows)
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
    const row = await this.#db.insertInto('throttles')
      .values({ key, hits: start, reset_at: now + windowMs })
      .onConflict((oc) => oc.column('key').doUpdateSet((eb) => {
        // Every SET expression reads the row as it was before the update.
        const ended = eb('throttles.reset_at', '<=', now)
        const moved = eb('throttles.hits', '+', by)
        return {
          hits: eb.case().when(ended).then(start).when(moved, '<', 0).then(0).else(moved).end(),
          reset_at: eb.case().when(ended).then(now + windowMs).else(eb.ref('throttles.reset_at')).end()
        }
      }))
      .returning(['hits', 'reset_at'])
      .executeTakeFirstOrThrow()
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
    await this.#db.deleteFrom('throttles').where('key', '=', key).execute()
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

  /** The session whose id hashes to `idHash`, whatever its expiry. */
  async findSession (idHash: string): Promise<SessionRecord | null> {
    const row = await this.#db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst()
    return row === undefined ? null : rowToSession(row)
  }

  /** Deletes a session. Returns false if there was none. */
  async deleteSession (idHash: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('sessions').where('id_hash', '=', idHash).executeTakeFirst()
    return result.numDeletedRows > 0n
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
    const result = await this.#db.deleteFrom(table)
      .where(key, 'in', (eb) => eb.selectFrom(table).select(key).where(endsAt, '<', now).limit(batch))
      .executeTakeFirst()
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

/**
 * Opens the shared read transaction, or says it could not: better-sqlite3 refuses any statement but a read
 * while an iterator is open on the connection (an app's Kysely `.stream()`, between its rows). The lookups
 * then read one by one, each in its own implicit read transaction, as a lone lookup does.
 */
function tryBegin (begin: SqliteStatement): boolean {
  try {
    begin.run()
    return true
  } catch {
    return false
  }
}

function prepareLookup (sqlite: SqliteHandle, source: string): PreparedLookup {
  const statement = sqlite.prepare(source)
  const names = statement.columns().map((column) => column.name)
  statement.raw(true)
  const at = Object.fromEntries(names.map((name, i) => [name, i])) as ColumnPositions
  return { statement, at, begin: sqlite.prepare('begin'), commit: sqlite.prepare('commit') }
}

/** A row fetched as an array, as the object the Kysely query returns (one object literal: a fixed shape). */
function rowFromValues (v: unknown[], at: ColumnPositions): AccessTokenRow {
  return {
    id: v[at.id],
    family_id: v[at.family_id],
    client_id: v[at.client_id],
    user_id: v[at.user_id],
    scopes: v[at.scopes],
    access_expires_at: v[at.access_expires_at],
    created_at: v[at.created_at],
    rotated_at: v[at.rotated_at],
    revoked_at: v[at.revoked_at],
    user__username: v[at.user__username]
  } as AccessTokenRow
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
