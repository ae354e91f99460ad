import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type Database from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect, type Driver, type SqliteDialectConfig } from 'kysely'
import type { PgPool, SqliteHandle } from './kysely-store.js'
import { registerSqliteWorker, startSqliteWorker, type SqliteWorker } from './sqlite-worker.js'
import { cachingStatements } from './statement-cache.js'

/** The databases `openDatabase` connects to. */
export type DatabaseDialect = 'sqlite' | 'postgres'

/** What `openDatabase` returns: a Kysely instance the caller owns (and destroys) and its dialect. */
export interface OpenedDatabase {
  // Kysely<any>: the tables are the caller's (KyselyStore's and the app's own).
  db: Kysely<any>
  dialect: DatabaseDialect
  /**
   * On SQLite, the better-sqlite3 connection under `db` (closed by `db.destroy()`): hand it to
   * `new KyselyStore({ db, sqlite })` for the fast bearer check. Absent on PostgreSQL.
   */
  sqlite?: SqliteHandle
  /**
   * On PostgreSQL, the `pg` Pool under `db` (ended by `db.destroy()`): hand it to
   * `new KyselyStore({ db, pgPool })` for the bearer check as a prepared statement. Absent on SQLite.
   */
  pgPool?: PgPool
}

const SQLITE_SCHEME = 'sqlite:'
const ACCEPTED_FORMS = '"sqlite:<path>" (a file path, or ":memory:") or "postgres://…" / "postgresql://…"'
/**
 * How long a SQLite connection blocks, waiting for another one's write lock, before failing with
 * SQLITE_BUSY: not at all. better-sqlite3 is synchronous, so a busy timeout would freeze every route of the
 * process, `/ping` included, while another process (the CLI, a backup, a second instance) holds the lock;
 * `KyselyStore` waits for the lock asynchronously instead, up to 5 s.
 */
const SQLITE_BUSY_TIMEOUT_MS = 0
/**
 * How much of a SQLite file the app's connection reads through a memory map, in bytes: SQLite's ceiling
 * (SQLITE_MAX_MMAP_SIZE, just under 2 GiB; pages past it are read as before). A read-only query, the
 * bearer check among them, then reads the pages it needs in place, with no read(2) and no copy, and
 * without putting them in the page cache. The trade-off, as SQLite documents it: an I/O error while
 * reading the disk ends the process with SIGBUS rather than failing the query. An app that prefers the
 * error runs `PRAGMA mmap_size = 0` on the connection `openDatabase` returns.
 */
const SQLITE_MMAP_BYTES = 0x7fff0000
/**
 * SQLite's page cache per connection, in KiB (better-sqlite3's default is about 16 MiB): with the map it
 * holds what writes read and change. Kept small because its size costs the event loop on writes: when an
 * insert splits a B-tree page, SQLite renumbers pages through a temporary number far past the end of the
 * file, and the next commit then walks every page in the cache to drop those past the end: the bigger
 * the cache, the longer that commit holds the event loop (docs/performance.md).
 */
const SQLITE_CACHE_KIB = 8192

/**
 * Opens a database from a URL:
 * - `sqlite:<path>`: a SQLite file through better-sqlite3 (its directory is created if missing), in WAL
 *   mode with `synchronous = NORMAL` (no fsync at each commit: a power loss may undo the last commits),
 *   with no busy timeout (a statement that finds another connection's write lock fails with SQLITE_BUSY at
 *   once, never blocking the event loop; `KyselyStore` tries again asynchronously for up to 5 s, and the
 *   app's own queries on this instance should do the same), with foreign keys enforced, read through a
 *   memory map of up to 2 GiB (see SQLITE_MMAP_BYTES) with a page cache of up to 8 MiB, its WAL
 *   checkpointed (and the expiry cleanup's deletes run) by a low-priority worker thread with its own
 *   connection, rather than on the event loop; `sqlite::memory:` for a private in-memory database. Each
 *   SQL text is prepared once (the statements of the 256 most recent texts are kept). The connection
 *   itself is returned as `sqlite`, for `KyselyStore`'s fast bearer check.
 * - `postgres://…` or `postgresql://…`: a pool of PostgreSQL connections through the optional `pg`
 *   package. An idle connection that fails (a server restart) is dropped from the pool with a process
 *   warning rather than crashing the process. The pool is returned as `pgPool`, for `KyselyStore`'s fast
 *   bearer check.
 *
 * The caller owns the instance and closes it with `db.destroy()`, which on a SQLite file resolves once
 * the background thread has closed its connection too. Rejects on any other URL, with a message that
 * never shows a password.
 */
export async function openDatabase (url: string): Promise<OpenedDatabase> {
  if (url.startsWith(SQLITE_SCHEME) && url.length > SQLITE_SCHEME.length) {
    const path = url.slice(SQLITE_SCHEME.length)
    const database = await openSqlite(path)
    const statements = cachingStatements(database)
    // A file gets a background thread (see sqlite-worker.ts), started with Kysely's first query and
    // stopped by `db.destroy()` (which closes the connection only if a query ever ran).
    let worker: SqliteWorker | null = null
    registerSqliteWorker(database, () => worker)
    const dialect = new SqliteFileDialect({
      database: {
        prepare (sql) {
          if (worker === null && path !== ':memory:') worker = startSqliteWorker(path, database)
          return statements.prepare(sql)
        },
        close () {
          statements.close()
        }
      }
    }, async () => await worker?.stop())
    return { db: new Kysely<any>({ dialect }), dialect: 'sqlite', sqlite: database }
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pool = await openPostgres(url)
    return { db: new Kysely<any>({ dialect: new PostgresDialect({ pool }) }), dialect: 'postgres', pgPool: pool }
  }
  throw new Error(`Unsupported database URL "${redactUrl(url)}": expected ${ACCEPTED_FORMS}`)
}

/**
 * The URL with any password replaced by `***`, fit for logs and error messages. A URL the WHATWG parser
 * rejects is redacted by pattern: everything between the user name and the last `@` goes.
 */
export function redactUrl (url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*):.*@/i, '$1:***@')
  }
  if (parsed.password === '') return url
  parsed.password = '***'
  return parsed.href
}

/**
 * Kysely's SQLite dialect, whose `destroy()` also waits for `afterClose` once the connection is closed:
 * Kysely calls the connection's `close()` without awaiting anything, and the file's background thread
 * closes its own connection as it ends. Awaited, a caller may remove or reopen the file as soon as
 * `db.destroy()` resolves.
 */
class SqliteFileDialect extends SqliteDialect {
  readonly #afterClose: () => Promise<void>

  constructor (config: SqliteDialectConfig, afterClose: () => Promise<void>) {
    super(config)
    this.#afterClose = afterClose
  }

  override createDriver (): Driver {
    const driver = super.createDriver()
    const destroy = driver.destroy.bind(driver)
    driver.destroy = async () => {
      await destroy()
      await this.#afterClose()
    }
    return driver
  }
}

async function openSqlite (path: string): Promise<Database.Database> {
  // Loaded only here: the native addon stays out of apps on PostgreSQL or the memory store.
  const { default: Database } = await import('better-sqlite3')
  const memory = path === ':memory:'
  if (!memory) mkdirSync(dirname(resolve(path)), { recursive: true })
  const database = new Database(path)
  // WAL lets readers run beside the one writer; an in-memory database has no journal file to share.
  if (!memory) {
    database.pragma('journal_mode = WAL')
    // In WAL mode NORMAL syncs at checkpoints rather than at every commit (SQLite's advice for WAL): a
    // commit no longer blocks the event loop on an fsync (the token endpoint writes on every login). A
    // process crash loses nothing; a power loss or OS crash may undo the last commits, never corrupt.
    database.pragma('synchronous = NORMAL')
    database.pragma(`mmap_size = ${SQLITE_MMAP_BYTES}`)
    database.pragma(`cache_size = -${SQLITE_CACHE_KIB}`)
  }
  database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`)
  database.pragma('foreign_keys = ON')
  return database
}

async function openPostgres (connectionString: string): Promise<import('pg').Pool> {
  // pg is an optional peer dependency: load it only when a PostgreSQL URL is used.
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({ connectionString })
  // An idle client's error (the server restarted, the connection was killed) is emitted on the pool;
  // unhandled, it would crash the process. The pool drops that client and opens a new one when needed.
  pool.on('error', (err) => {
    process.emitWarning(`PostgreSQL: an idle connection failed: ${err.message}`, { code: 'FST_OAUTH2_PG_IDLE_ERROR' })
  })
  return pool
}
