import { hashToken } from './crypto/tokens.js'
import { OAuth2Error } from './errors.js'
import type { ThrottleLimits } from './options.js'
import type { OAuth2Store, ThrottleState } from './store/store.js'

/**
 * The brute-force defence. Its counters live in the store, under keys that are SHA-256 hashes (the store
 * never learns which usernames were tried from where). A throttled request is refused before any hash is
 * computed, and the same way whether or not the user exists.
 */
export class Throttle {
  readonly #store: OAuth2Store
  readonly #limits: Readonly<ThrottleLimits>
  readonly #now: () => number

  constructor (store: OAuth2Store, limits: Readonly<ThrottleLimits>, now: () => number) {
    this.#store = store
    this.#limits = limits
    this.#now = now
  }

  /**
   * Refuses a login attempt (429) when its (username, IP) or its IP has failed too often. Resolves with
   * whether the (username, IP) has failures on record: only then has a successful login anything to clear.
   */
  async checkLogin (usernameKey: string, ip: string): Promise<boolean> {
    const now = this.#now()
    const [user, address] = await Promise.all([
      this.#store.getThrottle(userKey(usernameKey, ip), now),
      this.#store.getThrottle(ipKey('login', ip), now)
    ])
    this.#refuseOver(user, this.#limits.loginFailuresPerUser, now)
    this.#refuseOver(address, this.#limits.loginFailuresPerIp, now)
    return user !== null
  }

  /** Counts a failed login against its (username, IP) and its IP. */
  async loginFailed (usernameKey: string, ip: string): Promise<void> {
    const now = this.#now()
    const windowMs = this.#limits.window * 1000
    await Promise.all([
      this.#store.hitThrottle(userKey(usernameKey, ip), windowMs, now),
      this.#store.hitThrottle(ipKey('login', ip), windowMs, now)
    ])
  }

  /** A successful login clears its (username, IP) failures; the IP's count stays. */
  async loginSucceeded (usernameKey: string, ip: string): Promise<void> {
    await this.#store.clearThrottle(userKey(usernameKey, ip))
  }

  /** Counts a sign-up attempt from an IP and refuses it (429) past the limit. */
  async signUp (ip: string): Promise<void> {
    const now = this.#now()
    const state = await this.#store.hitThrottle(ipKey('sign-up', ip), this.#limits.window * 1000, now)
    this.#refuseOver({ count: state.count - 1, resetAt: state.resetAt }, this.#limits.signUpsPerIp, now)
  }

  #refuseOver (state: ThrottleState | null, limit: number, now: number): void {
    if (state === null || state.count < limit) return
    const seconds = Math.max(1, Math.ceil((state.resetAt - now) / 1000))
    throw new OAuth2Error('slow_down', 'Too many attempts: retry later.', 429, { 'retry-after': String(seconds) })
  }
}

function userKey (usernameKey: string, ip: string): string {
  return hashToken(`login-user\u0000${usernameKey}\u0000${ip}`)
}

function ipKey (kind: string, ip: string): string {
  return hashToken(`${kind}-ip\u0000${ip}`)
}

/** The throttle of a plugin instance, or `null` when `throttle: false`. */
export function throttleFor (options: { store: OAuth2Store, throttle: Readonly<ThrottleLimits> | null, now: () => number }): Throttle | null {
  return options.throttle === null ? null : new Throttle(options.store, options.throttle, options.now)
}
