/**
 * The benchmark's child processes as run.ts drives them (the server of server.ts over IPC, the storm of
 * storm.ts), its progress lines, and bounded waits: every wait of the benchmark ends, answered or not.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { SeedPlan } from './seed.js'
import type { Command, Reply } from './server.js'
import type { CpuUsage } from './stats.js'

const HERE = fileURLToPath(new URL('.', import.meta.url))
const started = performance.now()

/** Seconds since the benchmark started. */
export function elapsedSeconds (): number {
  return (performance.now() - started) / 1000
}

/** One line on stderr, with the seconds since the start. */
export function progress (message: string): void {
  process.stderr.write(`[bench ${elapsedSeconds().toFixed(1).padStart(5)} s] ${message}\n`)
}

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** Rejects after `ms` with `what` unless `promise` settles first. */
export async function within<T> (ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
    })])
  } finally {
    clearTimeout(timer)
  }
}

const children = new Set<ChildProcess>()

/** Kills every child still running (the run failed or overran). */
export function killChildren (): void {
  for (const child of children) child.kill('SIGKILL')
}

/** A script of bench/ in a child process of its own, with an IPC channel; `nodeFlags` go to its Node. */
export function forkTs (script: string, nodeFlags: string[] = []): ChildProcess {
  const child = fork(join(HERE, script), [], { execArgv: [...nodeFlags, '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** The server child: commands over IPC, each answered or timed out. */
export class Server {
  readonly #child: ChildProcess
  readonly #pending = new Map<number, { resolve: (value: any) => void, reject: (err: Error) => void }>()
  #next = 1

  private constructor (child: ChildProcess) {
    this.#child = child
    child.on('message', (reply: Reply) => {
      const pending = this.#pending.get(reply.id)
      if (pending === undefined) return
      this.#pending.delete(reply.id)
      if (reply.ok) pending.resolve(reply.result)
      else pending.reject(new Error(`server: ${reply.error}`))
    })
    child.once('exit', (code) => {
      for (const { reject } of this.#pending.values()) reject(new Error(`the server exited (${String(code)})`))
      this.#pending.clear()
    })
  }

  static async start (): Promise<Server> {
    // `gc()` for the memory samples of (e) (see `memory`).
    const child = forkTs('server.ts', ['--expose-gc'])
    const server = new Server(child)
    await within(30_000, 'server start', new Promise<void>((resolve, reject) => {
      server.#pending.set(0, { resolve, reject })
    }))
    return server
  }

  async call<T> (command: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.#next++
    const reply = new Promise<T>((resolve, reject) => this.#pending.set(id, { resolve, reject }))
    this.#child.send({ id, command, args } satisfies Command)
    return await within(timeoutMs, `server "${command}"`, reply)
  }

  async usage (): Promise<{ cpu: CpuUsage, rss: number, eventLoopActive: number, eventLoopCpu: number | null }> {
    return await this.call('usage')
  }

  /** The server's RSS once its garbage is collected (see server.ts's `memory`). */
  async memory (): Promise<{ rss: number }> {
    return await this.call('memory')
  }

  async close (): Promise<void> {
    await this.call('close', {}, 30_000).catch(() => {})
    if (this.#child.exitCode === null) {
      await within(10_000, 'server exit', new Promise((resolve) => this.#child.once('exit', resolve))).catch(() => this.#child.kill('SIGKILL'))
    }
  }
}

/**
 * Seeds a SQLite file (seed.ts) in a child process that exits afterwards, and returns the seconds each plan
 * took. better-sqlite3 runs the seeding synchronously: in this process it would hold the event loop, and
 * every other preparation with it, for as long as it runs.
 */
export async function seedSqliteInChild (url: string, plans: SeedPlan[], boundMs: number): Promise<number[]> {
  const seeder = await Server.start()
  try {
    return await seeder.call<number[]>('seed', { url, plans }, boundMs)
  } finally {
    await seeder.close()
  }
}
