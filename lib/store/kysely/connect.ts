import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely'

/** The databases `openDatabase` connects to. */
export type DatabaseDialect = 'sqlite' | 'postgres'

/** What `openDatabase` returns: a Kysely instance the caller owns (and destroys) and its dialect. */
export interface OpenedDatabase {
  // Kysely<any>: the tables are the caller's (KyselyStore's and the app's own).
  db: Kysely<any>
  dialect: DatabaseDialect
}

const SQLITE_SCHEME = 'sqlite:'
const ACCEPTED_FORMS = '"sqlite:<path>" (a file path, or ":memory:") or "postgres://…" / "postgresql://…"'
/** How long a SQLite connection waits for another one's write lock before failing with SQLITE_BUSY. */
const SQLITE_BUSY_TIMEOUT_MS = 5000

/**
 * Opens a database from a URL:
 * - `sqlite:<path>`: a SQLite file through better-sqlite3 (its directory is created if missing), in WAL
 *   mode, waiting up to 5 s for another connection's lock, with foreign keys enforced; `sqlite::memory:`
 *   for a private in-memory database.
 * - `postgres://…` or `postgresql://…`: a pool of PostgreSQL connections through the optional `pg`
 *   package. An idle connection that fails (a server restart) is dropped from the pool with a process
 *   warning rather than crashing the process.
 *
 * The caller owns the instance and closes it with `db.destroy()`. Rejects on any other URL, with a
 * message that never shows a password.
 */
export async function openDatabase (url: string): Promise<OpenedDatabase> {
  if (url.startsWith(SQLITE_SCHEME) && url.length > SQLITE_SCHEME.length) {
    return { db: openSqlite(url.slice(SQLITE_SCHEME.length)), dialect: 'sqlite' }
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    return { db: await openPostgres(url), dialect: 'postgres' }
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

function openSqlite (path: string): Kysely<any> {
  const memory = path === ':memory:'
  if (!memory) mkdirSync(dirname(resolve(path)), { recursive: true })
  const database = new Database(path)
  // WAL lets readers run beside the one writer; an in-memory database has no journal file to share.
  if (!memory) database.pragma('journal_mode = WAL')
  database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`)
  database.pragma('foreign_keys = ON')
  return new Kysely<any>({ dialect: new SqliteDialect({ database }) })
}

async function openPostgres (connectionString: string): Promise<Kysely<any>> {
  // pg is an optional peer dependency: load it only when a PostgreSQL URL is used.
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({ connectionString })
  // An idle client's error (the server restarted, the connection was killed) is emitted on the pool;
  // unhandled, it would crash the process. The pool drops that client and opens a new one when needed.
  pool.on('error', (err) => {
    process.emitWarning(`PostgreSQL: an idle connection failed: ${err.message}`, { code: 'FST_OAUTH2_PG_IDLE_ERROR' })
  })
  return new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
}
