/**
 * Seeds the benchmark's databases before their servers start, from a process of their own (SQLite's in a
 * child that exits afterwards, PostgreSQL's from run.ts), so that a server's RSS is that of a server on a big
 * table, not of the bulk load: both stores migrated, a public client each,
 * a thousand users each, and the live tokens, in one transaction per table. The token table's secondary
 * indexes are dropped for the load and re-created from their own definitions at the end of the same
 * transaction: building an index once is much faster than a million random insertions into it.
 *
 * (f)'s expired tokens (SQLite) are made in SQL by one `INSERT … SELECT` over a recursive CTE inside the same
 * transaction, shaped like real ones: random ids and hashes (scattered over their indexes as UUIDs and
 * SHA-256 hashes are), and expiry times in the order of insertion, oldest first, as a table fills over time.
 */
import { hash } from 'node:crypto'
import type BetterSqlite3 from 'better-sqlite3'
import { sql, type Kysely } from 'kysely'
import { createClient, KyselyStore, openDatabase } from '../lib/index.js'
import { sqliteWorkerOf } from '../lib/store/kysely/sqlite-worker.js'
import { BENCH_USERS, benchRefreshHash, benchToken, benchTokenId, benchUserId, TOKEN_FILL } from './tokens.js'

const DAY_MS = 86_400_000
/** Any argon2 string: the seeded users never log in. */
const DUMMY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$YmVuY2hoYXNo'

/** The tables to seed: a table prefix and how many tokens. */
export interface SeedPlan {
  prefix: string
  /** Live tokens, `benchToken(i)` for each `i` below this. */
  tokens: number
  /** Tokens expired for a day or more, besides the live ones (SQLite only). */
  expiredTokens?: number
}

/** Migrates, creates a client and users, and inserts the tokens of each plan; returns the seconds each took. */
export async function seedDatabase (url: string, plans: SeedPlan[]): Promise<number[]> {
  const { db, dialect, sqlite } = await openDatabase(url)
  try {
    const seconds: number[] = []
    for (const { prefix, tokens, expiredTokens = 0 } of plans) {
      if (expiredTokens > 0 && dialect !== 'sqlite') throw new Error('expired tokens are seeded on SQLite only')
      const started = performance.now()
      const store = new KyselyStore({ db, tablePrefix: prefix })
      await store.migrate()
      const { client } = await createClient(store, { name: 'example public client', type: 'public' })
      const now = Date.now()
      await db.insertInto(`${prefix}users`).values(Array.from({ length: BENCH_USERS }, (_, u) => ({
        id: benchUserId(u), username: benchUserId(u), username_key: benchUserId(u), password_hash: DUMMY_HASH, created_at: now
      }))).execute()
      // The bulk load switches the journal mode, which needs the file to itself: the background thread
      // openDatabase started (and its connection) goes first.
      if (dialect === 'sqlite') await sqliteWorkerOf(sqlite)?.stop()
      if (dialect === 'sqlite') seedSqlite(sqlite as unknown as BetterSqlite3.Database, prefix, client.id, { tokens, expiredTokens }, now)
      else await seedPostgres(db, prefix, client.id, tokens, now)
      seconds.push((performance.now() - started) / 1000)
    }
    return seconds
  } finally {
    await db.destroy()
  }
}

function seedSqlite (raw: BetterSqlite3.Database, prefix: string, clientId: string, { tokens, expiredTokens }: { tokens: number, expiredTokens: number }, now: number): void {
  // This short-lived connection may use memory freely and need not wait for the disk; a rollback journal
  // (of the few pages that existed) instead of a WAL spares writing the whole table twice. The server's
  // openDatabase() turns WAL on again.
  raw.pragma('journal_mode = DELETE')
  raw.pragma(`cache_size = -${expiredTokens > 0 ? BULK_CACHE_KIB : 524_288}`)
  raw.pragma('synchronous = OFF')
  // Index builds sort every row: in memory, on more than one thread where SQLite may.
  raw.pragma('temp_store = MEMORY')
  raw.pragma(`threads = ${SORT_THREADS}`)
  const table = `${prefix}tokens`
  const indexes = raw.prepare("select name, sql from sqlite_master where type = 'index' and tbl_name = ? and sql is not null")
    .all(table) as Array<{ name: string, sql: string }>
  const insert = raw.prepare(`insert into "${table}" (id, family_id, parent_id, client_id, user_id, scopes,
    access_token_hash, refresh_token_hash, access_expires_at, refresh_expires_at, expires_at, created_at)
    values (?, ?, null, ?, ?, 'read write', ?, ?, ?, ?, ?, ?)`)
  raw.transaction(() => {
    for (const { name } of indexes) raw.exec(`drop index "${name}"`)
    for (let i = 0; i < tokens; i++) {
      const id = benchTokenId(i)
      insert.run(id, id, clientId, benchUserId(i % BENCH_USERS), hash('sha256', benchToken(i), 'hex'),
        benchRefreshHash(i), now + DAY_MS, now + 30 * DAY_MS, now + 30 * DAY_MS, now)
    }
    if (expiredTokens > 0) insertExpired(raw, table, clientId, expiredTokens, now)
    for (const index of indexes) raw.exec(index.sql)
  })()
  // Statistics from a sample of each index: a full ANALYZE reads every row of every index.
  if (expiredTokens > 0) raw.pragma('analysis_limit = 1000')
  raw.exec(`analyze "${table}"`)
}

/**
 * The bulk seeding's page cache, in KiB: room for the sorts of the index builds.
 */
const BULK_CACHE_KIB = 2 * 1_048_576
/** Threads SQLite may use to sort for an index build (its `PRAGMA threads`). */
const SORT_THREADS = 2

/**
 * `count` expired token records, generated in SQL: ids and family ids of a UUID's length (36 characters)
 * that start with their creation time in milliseconds as the library's time-ordered ids do (then random
 * digits), random hashes of SHA-256's size, users in turn, and creation and expiry times that rise with the
 * insertion order and all lie more than a day before `now`. Each random value is one `randomblob()` used
 * once: SQLite evaluates an expression again wherever a flattened subquery's column is used.
 */
function insertExpired (raw: BetterSqlite3.Database, table: string, clientId: string, count: number, now: number): void {
  raw.prepare(`with recursive s(i) as (select 0 union all select i + 1 from s where i < ?)
    insert into "${table}" (id, family_id, parent_id, client_id, user_id, scopes,
      access_token_hash, refresh_token_hash, access_expires_at, refresh_expires_at, expires_at, created_at)
    select printf('%012x', expires - ${30 * DAY_MS}) || lower(hex(randomblob(12))),
      printf('%012x', expires - ${30 * DAY_MS}) || lower(hex(randomblob(12))), null, ?,
      'bench-user-' || substr('000' || (i % ${BENCH_USERS}), -4), 'read write',
      lower(hex(randomblob(32))), lower(hex(randomblob(32))), expires - ${29 * DAY_MS}, expires, expires, expires - ${30 * DAY_MS}
    from (select i, ${now - DAY_MS - count} + i as expires from s)`)
    .run(count - 1, clientId)
}

/** The same rows in one `INSERT … SELECT` over `generate_series`, the tokens derived in SQL as in tokens.ts. */
async function seedPostgres (db: Kysely<any>, prefix: string, clientId: string, tokens: number, now: number): Promise<void> {
  const table = `${prefix}tokens`
  await db.transaction().execute(async (trx) => {
    const { rows: indexes } = await sql<{ indexname: string, indexdef: string }>`select indexname, indexdef from pg_indexes
      where tablename = ${table} and indexname not like '%_pkey'`.execute(trx)
    for (const { indexname } of indexes) await sql`drop index ${sql.id(indexname)}`.execute(trx)
    await sql`insert into ${sql.table(table)} (id, family_id, parent_id, client_id, user_id, scopes,
        access_token_hash, refresh_token_hash, access_expires_at, refresh_expires_at, expires_at, created_at)
      select id, id, null, ${clientId}, 'bench-user-' || lpad((i % ${BENCH_USERS})::text, 4, '0'), 'read write',
        encode(sha256(convert_to(lpad(i::text, 10, '0') || ${TOKEN_FILL}, 'UTF8')), 'hex'),
        rpad('refresh-' || lpad(i::text, 10, '0'), 64, '0'),
        ${now + DAY_MS}::bigint, ${now + 30 * DAY_MS}::bigint, ${now + 30 * DAY_MS}::bigint, ${now}::bigint
      from (select i, 'bench-' || lpad(i::text, 8, '0') as id from generate_series(0, ${tokens - 1}::bigint) as i) as s`.execute(trx)
    for (const { indexdef } of indexes) await sql.raw(indexdef).execute(trx)
  })
  // Vacuumed, analyzed and checkpointed now, so that the server idles while SQLite is measured: left to
  // itself it would vacuum a table of a million new rows, and write its dirty pages out, on its own clock.
  await sql`vacuum (analyze) ${sql.table(table)}`.execute(db)
  await sql`checkpoint`.execute(db)
}
