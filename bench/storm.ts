/**
 * The login storm of (c), run in its own child process: requests sent at a fixed rate whatever the server
 * answers (an open loop: autocannon's connections each wait for their answer, so they cannot offer more
 * than the server takes), each given up after a timeout. Bounded in time: sending stops after `duration`
 * seconds and every request is settled `timeout` seconds later at the latest.
 */
import { Agent, request } from 'node:http'
import { numberedBodies } from './bodies.js'
import type { LoadResult } from './load.js'
import { LatencyRecorder } from './paced.js'

export interface StormOptions {
  url: string
  headers: Record<string, string>
  body: string
  /** A marker in `body` replaced by the request's number (from 0): a new username for each sign-up. */
  bodyCounter?: string
  /** Requests per second. */
  rate: number
  /** Seconds of sending. */
  duration: number
  /** Seconds after which a request counts as timed out. */
  timeout: number
}

export async function runStorm (options: StormOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })
  const recorder = new LatencyRecorder()
  let errors = 0
  let timeouts = 0
  let inFlight = 0
  let sent = 0
  const started = performance.now()
  const numbered = options.bodyCounter === undefined ? null : numberedBodies(options.body, options.bodyCounter)

  const send = (): void => {
    const body = numbered === null ? options.body : numbered(sent)
    sent++
    inFlight++
    const begun = performance.now()
    let settled = false
    const settle = (status: number | 'timeout' | 'error'): void => {
      if (settled) return
      settled = true
      inFlight--
      if (status === 'timeout') timeouts++
      else if (status === 'error') errors++
      else recorder.record(status, performance.now() - begun)
    }
    const req = request(options.url, { method: 'POST', agent, headers: options.headers, timeout: options.timeout * 1000 }, (res) => {
      res.resume()
      res.once('end', () => settle(res.statusCode ?? 0))
      res.once('error', () => settle('error'))
    })
    req.once('timeout', () => {
      settle('timeout')
      req.destroy()
    })
    req.once('error', () => settle('error'))
    req.end(body)
  }

  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000
      const due = Math.min(elapsed, options.duration) * options.rate
      while (sent < due) send()
      if (elapsed >= options.duration) {
        clearInterval(tick)
        resolve()
      }
    }, 5)
  })
  const deadline = performance.now() + options.timeout * 1000 + 1000
  while (inFlight > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  agent.destroy()
  return recorder.result((performance.now() - started) / 1000, errors, timeouts + inFlight)
}

// As a child process: one storm from the parent's message, the result back.
if (process.send !== undefined && process.argv[1]?.endsWith('storm.ts') === true) {
  process.once('message', (options: StormOptions) => {
    runStorm(options).then(
      (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
      (err: Error) => process.send?.({ ok: false, error: err.stack ?? err.message }, () => process.exit(1))
    )
  })
  process.on('disconnect', () => process.exit(0))
}
