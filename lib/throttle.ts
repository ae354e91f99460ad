import { hashToken } from './crypto/tokens.js'
import { OAuth2Error } from './errors.js'
import type { ThrottleLimits } from './options.js'
import type { OAuth2Store } from './store/store.js'

/** A login attempt counted by `Throttle.loginAttempt`, and what is done with its counts afterwards. */
export interface LoginAttempt {
  /**
   * The password was right: the (username, IP)'s attempts are forgotten, and the attempt is taken back from
   * the IP's count: what the IP's limit counts is failures, so an office behind one address is not locked
   * out by its users' successful logins.
   */
  succeeded: () => Promise<void>
  /** The password could not be checked (the hashing queue was full, the store failed): the attempt is taken back. */
  unchecked: () => Promise<void>
}

/**
 * The brute-force defence. Its counters live in the store, under keys that are SHA-256 hashes (the store
 * never learns which usernames were tried from where). Every attempt is counted before its password is
 * checked, in one atomic store operation that returns the new count (as a rate limiter's `incr` does):
 * of any number of attempts sent at once, at most the limit get past, whatever the store and however many
 * server instances share it. A refused attempt costs no hash, and is refused the same way whether or not
 * the user exists.
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
   * Counts a login attempt against its (username, IP), then against its IP, and refuses it (429) as soon as
   * either count passes its limit. The (username, IP) goes first, so that hammering one username does not
   * also use up the address's allowance for every other user. Resolves to what is done with the counts once
   * the password has been checked (the keys are hashed once per login).
   */
  async loginAttempt (usernameKey: string, ip: string): Promise<LoginAttempt> {
    const user = userKey(usernameKey, ip)
    const address = ipKey('login', ip)
    await this.#hit(user, this.#limits.loginFailuresPerUser)
    await this.#hit(address, this.#limits.loginFailuresPerIp)
    const store = this.#store
    const windowMs = this.#windowMs()
    return {
      succeeded: async () => {
        await Promise.all([
          store.clearThrottle(user),
          store.hitThrottle(address, windowMs, this.#now(), -1)
        ])
      },
      unchecked: async () => {
        const now = this.#now()
        await Promise.all([
          store.hitThrottle(user, windowMs, now, -1),
          store.hitThrottle(address, windowMs, now, -1)
        ])
      }
    }
  }

  /** Counts a sign-up attempt from an IP and refuses it (429) past the limit. */
  async signUp (ip: string): Promise<void> {
    await this.#hit(ipKey('sign-up', ip), this.#limits.signUpsPerIp)
  }

  #windowMs (): number {
    return this.#limits.window * 1000
  }

  async #hit (key: string, limit: number): Promise<void> {
    const now = this.#now()
    const state = await this.#store.hitThrottle(key, this.#windowMs(), now)
    if (state.count <= limit) return
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
