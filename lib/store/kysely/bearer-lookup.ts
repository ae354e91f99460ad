/**
 * The per-request bearer lookup of `KyselyStore`, the one query on every guarded request, on the fastest
 * of three paths the store's options allow:
 * - with `pgPool`: named prepared statements on the `pg` Pool, the lookups of a busy moment sharing queries;
 * - with `sqlite`: a statement prepared once on the raw better-sqlite3 connection, the lookups of one
 *   event-loop turn sharing one read transaction;
 * - otherwise: a query compiled once, run through Kysely.
 */
import { sql, type CompiledQuery, type Kysely } from 'kysely'
import { LookupBatch } from './lookup-batch.js'
import { asText } from './precompiled.js'
import type { PgListenClient } from './revocation-channel.js'
import type { OAuth2Tables, TokenRow } from './tables.js'

/** What `KyselyStore` uses of a `pg` Pool (`Pool` from `pg` fits). */
export interface PgPool {
  query (config: { name: string, text: string, values: unknown[] }): Promise<{ rows: unknown[] }>
  /** A connection of its own, for `watchRevocations` (`LISTEN`). */
  connect?: () => Promise<PgListenClient>
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
  all (...parameters: unknown[]): unknown[]
  run (...parameters: unknown[]): unknown
  /** Whether the statement returns rows (a select, or a write with `returning`). */
  readonly reader: boolean
  raw (toggle?: boolean): unknown
  columns (): Array<{ name: string }>
}

/**
 * A row of the bearer lookup: the columns of `AccessTokenRecord` and the user's name (null without a user:
 * the column is `not null`, so null means that the left join found no row).
 */
export type AccessTokenRow = Pick<TokenRow, 'id' | 'family_id' | 'client_id' | 'user_id' | 'scopes' | 'access_expires_at' |
'created_at' | 'rotated_at' | 'revoked_at'> & { user__username: string | null }

/** Finds the row of an access-token hash, or undefined. */
export type FindAccessToken = (accessTokenHash: string) => Promise<AccessTokenRow | undefined>

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

/**
 * The lookup for a store's tables: `db` carries the table prefix plugin, `plainDb` runs compiled queries.
 * `pgPool` and `sqlite` must be the very pool or connection under `db`.
 */
export function bearerLookup (db: Kysely<OAuth2Tables>, plainDb: Kysely<any>,
  { tablePrefix, pgPool, sqlite }: { tablePrefix: string, pgPool?: PgPool | undefined, sqlite?: SqliteHandle | undefined }): FindAccessToken {
  // Only what the lookup returns: every column read costs (a string made, a field parsed), and the
  // password hash has no business on the per-request path.
  const lookup = db.selectFrom('tokens')
    .leftJoin('users', 'users.id', 'tokens.user_id')
    .select([
      'tokens.id', 'tokens.family_id', 'tokens.client_id', 'tokens.user_id', 'tokens.scopes',
      'tokens.access_expires_at', 'tokens.created_at', 'tokens.rotated_at', 'tokens.revoked_at',
      'users.username as user__username'
    ])
  // Compiled once (dialect, table prefix and all); each call only binds the hash, compared through
  // `asText` (SQLite's STAT4 statistics would otherwise prepare the statement again for every hash).
  const compiled: CompiledQuery<AccessTokenRow> = lookup.where('tokens.access_token_hash', '=', asText('')).compile()
  if (pgPool !== undefined) {
    // Named prepared statements, one name per table prefix since pg refuses one name for two texts. A
    // lone lookup keeps `= $1`: PostgreSQL plans `= any($1)` for several rows, which costs it more.
    const one = { name: `${tablePrefix}find_by_access_token_hash`, text: compiled.sql }
    // Several rows come back in any order: each carries its hash, by which it goes back to who asked.
    const many = {
      name: `${tablePrefix}find_by_access_token_hashes`,
      text: lookup.select('tokens.access_token_hash')
        .where('tokens.access_token_hash', '=', sql<string>`any(cast(${[]} as text[]))`).compile().sql
    }
    // One query out at a time: under load each carries every check asked for while the one before was out.
    const batch = new LookupBatch<AccessTokenRow>(async (hashes) => {
      if (hashes.length === 1) return (await pgPool.query({ ...one, values: hashes })).rows as AccessTokenRow[]
      const { rows } = await pgPool.query({ ...many, values: [hashes] })
      const byHash = new Map((rows as Array<AccessTokenRow & { access_token_hash: string }>).map((row) => [row.access_token_hash, row]))
      return hashes.map((hash) => byHash.get(hash))
    }, { maxInFlight: 1 })
    return (hash) => batch.find(hash)
  }
  if (sqlite !== undefined) {
    // Prepared on first use: the tables may not exist before `migrate()`.
    let prepared: PreparedLookup | undefined
    const batch = new LookupBatch<AccessTokenRow>((hashes) => sqliteLookups(sqlite, prepared ??= prepareLookup(sqlite, compiled.sql), hashes))
    return (hash) => batch.find(hash)
  }
  return async (hash) => (await plainDb.executeQuery<AccessTokenRow>({ ...compiled, parameters: [hash] })).rows[0]
}

/**
 * The rows of `hashes` on the raw SQLite connection. In WAL mode each statement outside a transaction
 * opens and closes a read transaction, which costs more than the indexed read: several lookups share
 * one (one snapshot), unless a transaction is open on the connection (the store's or the app's), which
 * they then read inside.
 */
function sqliteLookups (sqlite: SqliteHandle, lookup: PreparedLookup, hashes: string[]): Array<AccessTokenRow | undefined> {
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
