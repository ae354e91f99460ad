/** A clock a test moves by hand: pass `clock.now` as the plugin's `now` option. */
export interface TestClock {
  /** The current time in milliseconds since the epoch (a function of its own: pass it around detached). */
  readonly now: () => number
  /** Moves the clock forward by `seconds` (backward when negative), e.g. past a token's expiry. */
  advance (seconds: number): void
}

function finite (what: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`testClock: ${what} must be a finite number`)
  return value
}

/**
 * A controllable clock for expiry and refresh tests, starting at `start` (milliseconds or a `Date`;
 * default: the real time now) and moving only when told:
 *
 * ```ts
 * const clock = testClock()
 * await app.register(oauth2, { store, now: clock.now })
 * clock.advance(3600) // an hour later: access tokens of the default lifetime have expired
 * ```
 */
export function testClock (start: number | Date = Date.now()): TestClock {
  let time = finite('start', start instanceof Date ? start.getTime() : start)
  return {
    now: () => time,
    advance (seconds) {
      time += finite('advance(seconds)', seconds) * 1000
    }
  }
}
