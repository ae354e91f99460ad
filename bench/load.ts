/**
 * One load: autocannon against one route for a fixed time, latencies recorded per response at full
 * resolution (autocannon's own histogram counts whole milliseconds only) and split by status.
 */
/// <reference path="./autocannon.d.ts" />
import autocannon, { type AutocannonRequest } from 'autocannon'
import { numberedBodies } from './bodies.js'
import { LatencyRecorder } from './paced.js'
import type { LatencySummary } from './stats.js'

export interface LoadOptions {
  /** `http://127.0.0.1:<port>/<path>` */
  url: string
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /**
   * A marker in `body` replaced by a number at each request (see `numberedBodies`): a new username for each
   * sign-up. The numbers count from 0 within the load, across its connections.
   */
  bodyCounter?: string
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
  /** Ends the load before its duration once aborted (at the next sampling tick). */
  signal?: AbortSignal
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

/** autocannon's sampling interval, at whose ticks it checks whether the load is over. */
const SAMPLE_MS = 100

export async function runLoad (options: LoadOptions): Promise<LoadResult> {
  const recorder = new LatencyRecorder()
  const authorizations = options.authorizations
  let requests: AutocannonRequest[] | undefined = authorizations?.map((authorization) => ({ headers: { ...options.headers, authorization } }))
  if (options.bodyCounter !== undefined) {
    if (requests !== undefined) throw new TypeError('runLoad: bodyCounter and authorizations do not go together')
    // Each request is rebuilt with the next body: slower for the generator, which matters at tens of
    // thousands of requests per second, not at the hundreds a hashing route answers.
    const bodyOf = numberedBodies(options.body ?? '', options.bodyCounter)
    let n = 0
    requests = [{ setupRequest: (request) => ({ ...request, body: bodyOf(n++) }) }]
  }
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
    requests
  })
  instance.on('response', (_client: unknown, status: number, _bytes: number, milliseconds: number) => {
    recorder.record(status, milliseconds)
  })
  const stop = (): void => instance.stop()
  options.signal?.addEventListener('abort', stop, { once: true })
  try {
    const result = await instance
    // autocannon counts a timeout as an error too.
    return recorder.result(result.duration, result.errors - result.timeouts, result.timeouts)
  } finally {
    options.signal?.removeEventListener('abort', stop)
  }
}

/** The fixed-rate probe of (c) and (f): `GET /me` from two connections at 200 requests per second in all. */
export const PROBE = { connections: 2, rate: 200 }

/** The probe's load on `GET /me` of the server at `port`, presenting `authorizations` in turn. */
export function probeLoad (port: number, authorizations: string[], duration: number, signal?: AbortSignal): LoadOptions {
  return { url: `http://127.0.0.1:${port}/me`, connections: PROBE.connections, overallRate: PROBE.rate, duration, authorizations, signal }
}
