/**
 * One load: autocannon against one route for a fixed time, latencies recorded per response at full
 * resolution (autocannon's own histogram counts whole milliseconds only) and split by status.
 */
import autocannon from 'autocannon'
import { summarizeLatencies, type LatencySummary } from './stats.js'

export interface LoadOptions {
  /** `http://127.0.0.1:<port>/<path>` */
  url: string
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /**
   * `Authorization` values sent in turn, one per request: each connection cycles through them as requests
   * built once (a `setupRequest` function would rebuild every request, and slow the generator down).
   */
  authorizations?: string[]
  connections: number
  /**
   * Seconds: autocannon stops by then, whatever is in flight (at its next sampling tick: every 100 ms here,
   * rather than its default second).
   */
  duration: number
  /**
   * A budget of requests per connection per second (autocannon's `overallRate`, divided among the
   * connections): each connection sends as fast as the server answers until it has spent its budget, then
   * waits for the next second. Bursts, not even pacing. None for as fast as the server answers.
   */
  overallRate?: number
  /** Seconds a request may take before it counts as timed out. */
  timeout?: number
}

export interface LoadResult {
  /** Responses received. */
  responses: number
  /** Seconds the load ran. */
  seconds: number
  /** Responses per second. */
  rate: number
  latency: LatencySummary
  /** Latencies of the responses of each status code. */
  byStatus: Record<string, LatencySummary>
  /** Connection errors and the like, timeouts not included. */
  errors: number
  /** Requests that got no response within `timeout`. */
  timeouts: number
}

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

/** autocannon's sampling interval, at whose ticks it checks whether the load is over. */
const SAMPLE_MS = 100

export async function runLoad (options: LoadOptions): Promise<LoadResult> {
  const recorder = new LatencyRecorder()
  const authorizations = options.authorizations
  const instance = autocannon({
    url: options.url,
    method: options.method ?? 'GET',
    headers: options.headers ?? {},
    body: options.body,
    connections: options.connections,
    duration: options.duration,
    sampleInt: SAMPLE_MS,
    timeout: options.timeout ?? 10,
    overallRate: options.overallRate,
    requests: authorizations?.map((authorization) => ({ headers: { ...options.headers, authorization } }))
  })
  instance.on('response', (_client: unknown, status: number, _bytes: number, milliseconds: number) => {
    recorder.record(status, milliseconds)
  })
  const result = await instance
  // autocannon counts a timeout as an error too.
  return recorder.result(result.duration, result.errors - result.timeouts, result.timeouts)
}
