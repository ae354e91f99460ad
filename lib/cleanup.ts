import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { OAuth2Store } from './store/store.js'

/** Rows one delete takes at most: small enough that each holds a SQLite write lock only briefly. */
export const CLEANUP_BATCH_SIZE = 1000

/** What a cleanup deleted. */
export interface CleanupResult {
  /** Token records whose access and refresh tokens had both expired. */
  tokens: number
  /** Throttle counters whose window had ended. */
  throttles: number
}

/**
 * Deletes what can no longer be used (expired token records, ended throttle counters) in batches of
 * `batchSize`, yielding to the event loop between batches: a table of millions of expired rows is cleared
 * while the API keeps answering (in this process, and in others sharing a SQLite file, which take the
 * write lock between batches). `now` is the cut-off, in milliseconds.
 */
export async function deleteExpired (store: OAuth2Store, now: number, batchSize = CLEANUP_BATCH_SIZE): Promise<CleanupResult> {
  const drain = async (deleteBatch: (limit: number) => Promise<number>): Promise<number> => {
    let total = 0
    for (;;) {
      const deleted = await deleteBatch(batchSize)
      total += deleted
      if (deleted < batchSize) return total
      await yieldToEventLoop()
    }
  }
  const tokens = await drain((limit) => store.deleteExpiredTokens(now, limit))
  const throttles = await drain((limit) => store.deleteExpiredThrottles(now, limit))
  return { tokens, throttles }
}

/** A cleanup run every `interval` seconds, one at a time; `stop()` ends it (and waits for a run underway). */
export interface PeriodicCleanup {
  stop: () => Promise<void>
}

/**
 * Runs `deleteExpired` every `intervalSeconds`, never two at once, on a timer that does not keep the
 * process alive. A failed run is reported to `onError` and the next one runs as planned.
 */
export function startPeriodicCleanup (store: OAuth2Store, { intervalSeconds, batchSize, now, onError, onDone }: {
  intervalSeconds: number
  batchSize: number
  now: () => number
  onError: (err: unknown) => void
  onDone?: (result: CleanupResult) => void
}): PeriodicCleanup {
  let running: Promise<void> | null = null
  const timer = setInterval(() => {
    if (running !== null) return
    running = deleteExpired(store, now(), batchSize)
      .then((result) => onDone?.(result), onError)
      .finally(() => { running = null })
  }, intervalSeconds * 1000)
  timer.unref()
  return {
    async stop () {
      clearInterval(timer)
      await running
    }
  }
}
