/**
 * SQLite checkpoints off the event loop. In WAL mode a commit appends pages to the `-wal` file, and a
 * checkpoint copies them back into the database file and syncs both. By default SQLite runs that
 * checkpoint inside whichever commit pushes the WAL past 1,000 pages: with better-sqlite3 that commit
 * is synchronous, so every few hundred token writes one request held the event loop for the copy and two
 * fsyncs while every other route waited. Here a worker thread at the lowest OS priority holds its own
 * connection and runs a passive checkpoint (it waits for no reader or writer, and no writer waits for it)
 * every `intervalMs`; the app's connection checkpoints by itself only past a large backstop, should the
 * worker fall far behind or fail to start.
 */
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { LOWEST_PRIORITY } from '../../crypto/low-priority-pool.js'

/** How often the worker checkpoints, in ms: the WAL grows by at most what the app writes meanwhile. */
export const CHECKPOINT_INTERVAL_MS = 100
/**
 * WAL pages past which the app's own connection checkpoints inline after all (SQLite's default is 1,000):
 * a backstop if the worker is starved or gone, about 40 MiB of WAL at the default 4 KiB page.
 */
export const BACKSTOP_WAL_PAGES = 10_000
/** SQLite's own default, restored on the app's connection when the worker cannot run. */
const SQLITE_DEFAULT_WAL_PAGES = 1000

/**
 * The worker: plain CommonJS run from a string (no file of its own in the package). It lowers its thread's
 * priority, opens the database, and checkpoints on a timer; a failed checkpoint (SQLITE_BUSY while another
 * connection checkpoints) is tried again at the next tick.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const os = require('node:os')
try { os.setPriority(0, ${LOWEST_PRIORITY}) } catch {}
const Database = require(workerData.driver)
const db = new Database(workerData.path, { fileMustExist: true })
db.pragma('busy_timeout = 0')
db.pragma('synchronous = NORMAL')
db.pragma('wal_autocheckpoint = 0')
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)') } catch {}
}, workerData.intervalMs)
parentPort.postMessage('ready')
parentPort.on('message', () => {
  clearInterval(timer)
  db.close()
  process.exit(0)
})
`

/** The app's connection, as far as the checkpointer touches it. */
export interface CheckpointedDatabase {
  pragma: (source: string) => unknown
}

/** A running checkpointer: `stop()` ends the worker (it closes its connection first). */
export interface Checkpointer {
  stop: () => void
  /** Resolves once the worker has opened the database and checkpoints (rejects if it could not). */
  readonly ready: Promise<void>
}

/**
 * Starts checkpointing the WAL database at `path` from a worker thread, and moves `database` (the app's
 * connection to it) to the backstop. If the worker fails, `database` gets SQLite's default back.
 * `driver` is the module to open the database with (better-sqlite3; another path only in tests).
 */
export function startCheckpointer (path: string, database: CheckpointedDatabase, {
  intervalMs = CHECKPOINT_INTERVAL_MS,
  driver = createRequire(import.meta.url).resolve('better-sqlite3')
}: { intervalMs?: number, driver?: string } = {}): Checkpointer {
  database.pragma(`wal_autocheckpoint = ${BACKSTOP_WAL_PAGES}`)
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, path, intervalMs }, execArgv: [] })
  worker.unref()
  let stopped = false
  const ready = new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve())
    worker.once('error', (err) => {
      if (!stopped) database.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_WAL_PAGES}`)
      reject(err)
    })
  })
  // A caller that never waits for `ready` must not see an unhandled rejection.
  ready.catch(() => {})
  return {
    ready,
    stop () {
      stopped = true
      worker.postMessage('stop')
    }
  }
}
