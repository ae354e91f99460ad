/**
 * A SQLite file's background thread: a worker at the lowest OS priority with a connection of its own, for
 * the work that would otherwise stall the event loop on the app's synchronous connection.
 *
 * - Checkpoints. In WAL mode a commit appends pages to the `-wal` file, and a checkpoint copies them back
 *   into the database file and syncs both. By default SQLite runs it inside whichever commit pushes the WAL
 *   past 1,000 pages: with better-sqlite3 every route then waited for the copy and two fsyncs. The worker
 *   runs a passive checkpoint (it waits for no reader or writer, and no writer waits for it) every
 *   `intervalMs` and after each statement it runs; the app's connection checkpoints by itself only past a
 *   large backstop, should the worker fall far behind or fail to start.
 * - Bulk deletes (`run`): the expiry cleanup's batches, each of which rewrites a few pages of every index per
 *   row, run here while the app's connection keeps reading (WAL readers do not wait for a writer). The
 *   app's own writes meet SQLITE_BUSY meanwhile, as with any other writer on the file.
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
 * How long a statement of the worker waits for another connection's write lock: blocking only the worker,
 * so it may wait as long as the store's own retries (KyselyStore's BUSY_WAIT_MS).
 */
const WORKER_BUSY_TIMEOUT_MS = 5000

/**
 * The worker: plain CommonJS run from a string (no file of its own in the package). It lowers its thread's
 * priority, opens the database, checkpoints on a timer, and runs the statements it is sent, one at a time.
 * A failed checkpoint (SQLITE_BUSY while another connection checkpoints) is tried again at the next tick.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const os = require('node:os')
try { os.setPriority(0, ${LOWEST_PRIORITY}) } catch {}
const Database = require(workerData.driver)
const db = new Database(workerData.path, { fileMustExist: true })
db.pragma('busy_timeout = ${WORKER_BUSY_TIMEOUT_MS}')
db.pragma('synchronous = NORMAL')
db.pragma('foreign_keys = ON')
db.pragma('wal_autocheckpoint = 0')
const checkpoint = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)') } catch {}
}
const timer = setInterval(checkpoint, workerData.intervalMs)
const statements = new Map()
parentPort.postMessage({ ready: true })
parentPort.on('message', (job) => {
  if (job.op === 'stop') {
    clearInterval(timer)
    db.close()
    process.exit(0)
  }
  try {
    let statement = statements.get(job.sql)
    if (statement === undefined) statements.set(job.sql, statement = db.prepare(job.sql))
    parentPort.postMessage({ id: job.id, changes: statement.run(...job.parameters).changes })
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: String(err && err.message), code: err && err.code })
  }
  checkpoint()
})
`

/** The app's connection, as far as the worker touches it. */
export interface CheckpointedDatabase {
  pragma: (source: string) => unknown
}

/** A file's background thread. */
export interface SqliteWorker {
  /** Resolves once the worker has opened the database (rejects if it could not). */
  readonly ready: Promise<void>
  /** Whether statements can be sent: the worker has not failed or been stopped. */
  readonly running: boolean
  /** Runs one write statement on the worker's connection; resolves to the rows it changed. */
  run: (sql: string, parameters: readonly unknown[]) => Promise<number>
  /**
   * Ends the worker (it closes its connection first); statements still out are rejected. Resolves once
   * the thread has ended, its connection closed.
   */
  stop: () => Promise<void>
}

/** Who asks the worker to run a statement: the app's connection's worker, started on demand, if any. */
const workers = new WeakMap<object, () => SqliteWorker | null>()

/** Records `worker` as the background thread of the app connection `database` (openDatabase does). */
export function registerSqliteWorker (database: object, worker: () => SqliteWorker | null): void {
  workers.set(database, worker)
}

/** The background thread of an app connection, if it has one that runs. */
export function sqliteWorkerOf (database: object | undefined): SqliteWorker | null {
  const worker = database === undefined ? undefined : workers.get(database)?.()
  return worker?.running === true ? worker : null
}

/**
 * Starts the background thread of the WAL database at `path`, and moves `database` (the app's connection
 * to it) to the checkpoint backstop. If the worker fails, `database` gets SQLite's default back.
 * `driver` is the module to open the database with (better-sqlite3; another path only in tests).
 */
export function startSqliteWorker (path: string, database: CheckpointedDatabase, {
  intervalMs = CHECKPOINT_INTERVAL_MS,
  driver = createRequire(import.meta.url).resolve('better-sqlite3')
}: { intervalMs?: number, driver?: string } = {}): SqliteWorker {
  database.pragma(`wal_autocheckpoint = ${BACKSTOP_WAL_PAGES}`)
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, path, intervalMs }, execArgv: [] })
  worker.unref()
  let running = true
  let next = 1
  const pending = new Map<number, { resolve: (changes: number) => void, reject: (error: Error) => void }>()
  const end = (error: Error): void => {
    running = false
    for (const { reject } of pending.values()) reject(error)
    pending.clear()
  }
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (message: { ready?: true, id: number, changes?: number, error?: string, code?: string }) => {
      if (message.ready === true) return resolve()
      const job = pending.get(message.id)
      pending.delete(message.id)
      if (message.error === undefined) job?.resolve(message.changes as number)
      else job?.reject(Object.assign(new Error(message.error), { code: message.code }))
    })
    worker.once('error', (err) => {
      if (running) database.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_WAL_PAGES}`)
      end(err)
      reject(err)
    })
  })
  const exited = new Promise<void>((resolve) => worker.once('exit', () => {
    end(new Error('The SQLite worker thread has ended.'))
    resolve()
  }))
  // A caller that never waits for `ready` must not see an unhandled rejection.
  ready.catch(() => {})
  return {
    ready,
    get running () {
      return running
    },
    async run (sql, parameters) {
      if (!running) throw new Error('The SQLite worker thread has ended.')
      const id = next++
      const changes = new Promise<number>((resolve, reject) => pending.set(id, { resolve, reject }))
      worker.postMessage({ id, sql, parameters })
      return await changes
    },
    async stop () {
      running = false
      // Held until it has ended: an unreferenced worker's exit would not keep a waiting process alive.
      worker.ref()
      worker.postMessage({ op: 'stop' })
      await exited
    }
  }
}
