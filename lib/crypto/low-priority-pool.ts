/**
 * argon2 in worker threads whose OS scheduling priority is lowered (nice 19). On Linux the nice value is
 * per thread, so these threads get the cores only when the event loop's thread does not need them: the
 * hashing can use every core while the API stays fast, instead of leaving a core idle to protect it.
 */
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/** The lowest priority (the highest nice value) a thread can give itself. */
export const LOWEST_PRIORITY = 19

/**
 * The worker: plain CommonJS run from a string, so it needs no file of its own in the package and no loader
 * of the app's. It lowers its own thread's priority first, then runs one synchronous argon2 call at a time.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const os = require('node:os')
let priority = null
try {
  os.setPriority(0, ${LOWEST_PRIORITY})
  priority = os.getPriority(0)
} catch {}
const argon2 = require(workerData.argon2)
parentPort.postMessage({ ready: true, priority })
parentPort.on('message', (job) => {
  if (job.op === 'priority') return parentPort.postMessage({ result: os.getPriority(0) })
  try {
    const result = job.op === 'hash' ? argon2.hashSync(job.password, job.options) : argon2.verifySync(job.hash, job.password)
    parentPort.postMessage({ result })
  } catch (err) {
    // An unreadable hash verifies as false, as the async verify's callers expect; a failed hash is an error.
    parentPort.postMessage(job.op === 'verify' ? { result: false } : { error: String(err && err.message) })
  }
})
`

type Job =
  | { op: 'hash', password: string, options: object }
  | { op: 'verify', hash: string, password: string }
  | { op: 'priority' }

interface Running {
  resolve: (value: unknown) => void
  reject: (error: Error) => void
}

/**
 * Up to `size` worker threads at the lowest priority, started when first needed. The caller bounds how many
 * jobs run at once to `size` (PasswordHasher's slots), so a job always finds a thread free.
 */
export class LowPriorityPool {
  readonly #size: number
  #idle: Worker[] = []
  readonly #running = new Map<Worker, Running>()
  #all = new Set<Worker>()
  /** What the workers' threads report of their priority once lowered (`null`: the OS refused). */
  #priority: number | null | undefined

  constructor (size: number) {
    this.#size = size
  }

  /** Hashes a password with argon2 `options` on a low-priority thread. */
  async hash (password: string, options: object): Promise<string> {
    return await this.#run({ op: 'hash', password, options }) as string
  }

  /** Verifies a password against a PHC string on a low-priority thread; an unreadable hash is false. */
  async verify (hash: string, password: string): Promise<boolean> {
    return await this.#run({ op: 'verify', hash, password }) as boolean
  }

  /** The priority (nice value) a worker thread runs at, as the thread itself reads it. */
  async threadPriority (): Promise<number> {
    return await this.#run({ op: 'priority' }) as number
  }

  /** What the first worker reported when it lowered its priority (`null`: refused), once one has started. */
  get loweredTo (): number | null | undefined {
    return this.#priority
  }

  /** Ends every thread; jobs still running are rejected. */
  async close (): Promise<void> {
    const workers = [...this.#all]
    this.#all = new Set()
    this.#idle = []
    await Promise.all(workers.map(async (worker) => await worker.terminate()))
  }

  async #run (job: Job): Promise<unknown> {
    const worker = this.#idle.pop() ?? this.#spawn()
    return await new Promise((resolve, reject) => {
      this.#running.set(worker, { resolve, reject })
      worker.postMessage(job)
    })
  }

  #spawn (): Worker {
    if (this.#all.size >= this.#size) throw new Error(`LowPriorityPool: more than ${this.#size} jobs at once`)
    const argon2 = createRequire(import.meta.url).resolve('@node-rs/argon2')
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { argon2 }, execArgv: [] })
    worker.unref()
    this.#all.add(worker)
    worker.on('message', (message: { ready?: true, priority: number | null, result?: unknown, error?: string }) => {
      if (message.ready === true) {
        this.#priority ??= message.priority
        return
      }
      const running = this.#running.get(worker)
      this.#running.delete(worker)
      if (this.#all.has(worker)) this.#idle.push(worker)
      if (message.error !== undefined) running?.reject(new Error(message.error))
      else running?.resolve(message.result)
    })
    const fail = (error: Error): void => {
      this.#all.delete(worker)
      this.#idle = this.#idle.filter((other) => other !== worker)
      this.#running.get(worker)?.reject(error)
      this.#running.delete(worker)
    }
    worker.on('error', fail)
    worker.on('exit', () => fail(new Error('LowPriorityPool: the worker thread ended')))
    return worker
  }
}
