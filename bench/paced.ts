/**
 * The bench's own load generator at an even pace (`runPaced`), and the recorder of latencies every load
 * shares. No autocannon here: a request at a time, from `node:http`.
 */
import { Agent, request } from 'node:http'
import type { LoadOptions, LoadResult } from './load.js'
import { summarizeLatencies } from './stats.js'

/** Response latencies, all and by status, summed up as a `LoadResult`; shared with the login storm. */
export class LatencyRecorder {
  readonly #latencies: number[] = []
  readonly #byStatus = new Map<number, number[]>()

  record (status: number, milliseconds: number): void {
    this.#latencies.push(milliseconds)
    let list = this.#byStatus.get(status)
    if (list === undefined) this.#byStatus.set(status, list = [])
    list.push(milliseconds)
  }

  result (seconds: number, errors: number, timeouts: number): LoadResult {
    return {
      responses: this.#latencies.length,
      seconds,
      rate: this.#latencies.length / seconds,
      latency: summarizeLatencies(this.#latencies),
      byStatus: Object.fromEntries([...this.#byStatus].map(([status, list]) => [String(status), summarizeLatencies(list)])),
      errors,
      timeouts
    }
  }
}

/**
 * A load at an even pace: one connection, the n-th request sent `n / rate` seconds after the start (or as
 * soon as the one before is answered, when that is later), for `duration` seconds. autocannon's
 * `overallRate` spends each second's budget at once and then waits for the next second, so its requests
 * come back to back, in bursts; here they come one at a time with the connection idle in between, as
 * logins from many users do. `bodyCounter`, `authorizations`, `connections` and `signal` are not used.
 */
export async function runPaced (options: LoadOptions & { rate: number }): Promise<LoadResult> {
  if (!(options.rate > 0)) throw new RangeError('runPaced: rate must be a number > 0')
  const recorder = new LatencyRecorder()
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const url = new URL(options.url)
  const body = options.body ?? ''
  const headers = { ...options.headers, ...(options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) }
  const timeoutMs = (options.timeout ?? 10) * 1000
  let errors = 0
  let timeouts = 0
  const send = async (): Promise<void> => await new Promise<void>((resolve) => {
    const sent = performance.now()
    let timedOut = false
    let settled = false
    const settle = (outcome: () => void): void => {
      if (settled) return
      settled = true
      outcome()
      resolve()
    }
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: options.method ?? 'GET', headers, agent, timeout: timeoutMs }, (res) => {
      res.resume()
      res.once('end', () => settle(() => recorder.record(res.statusCode as number, performance.now() - sent)))
      // A response cut off before its end (the connection closed): an error, as a request that failed.
      res.once('close', () => settle(() => errors++))
    })
    req.once('timeout', () => {
      timedOut = true
      req.destroy()
    })
    req.once('error', () => settle(() => timedOut ? timeouts++ : errors++))
    req.end(body)
  })
  const started = performance.now()
  const end = started + options.duration * 1000
  try {
    for (let n = 0; ; n++) {
      const due = started + n * 1000 / options.rate
      if (due >= end) break
      // A timer may fire a little early by performance.now(): it counts from the event loop's cached
      // time, which can lag behind. Waited again until the turn has come.
      for (let wait = due - performance.now(); wait > 0; wait = due - performance.now()) {
        await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)))
      }
      await send()
    }
  } finally {
    agent.destroy()
  }
  return recorder.result((performance.now() - started) / 1000, errors, timeouts)
}
