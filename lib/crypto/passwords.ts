import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2'
import { randomBytes } from 'node:crypto'
import { OAuth2Error } from '../errors.js'
import { LowPriorityPool } from './low-priority-pool.js'
import { argon2PhcString, isDjangoPbkdf2Hash, verifyDjangoPbkdf2 } from './django-hashes.js'

/** argon2id, as `Algorithm.Argon2id` (a `const enum` in @node-rs/argon2, so written out here). */
export const ARGON2_ALGORITHM_ID = 2
/** OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1. */
export const ARGON2_MEMORY_KIB = 19_456
export const ARGON2_TIME_COST = 2
export const ARGON2_PARALLELISM = 1

/** argon2id parameters of new hashes, as @node-rs/argon2 takes them. */
export interface Argon2Parameters {
  algorithm: typeof ARGON2_ALGORITHM_ID
  memoryCost: number
  timeCost: number
  parallelism: number
}

const ARGON2_OPTIONS: Argon2Parameters = {
  algorithm: ARGON2_ALGORITHM_ID,
  memoryCost: ARGON2_MEMORY_KIB,
  timeCost: ARGON2_TIME_COST,
  parallelism: ARGON2_PARALLELISM
}

/** The start of every PHC string hashed with these parameters. */
function phcPrefix ({ memoryCost, timeCost, parallelism }: Argon2Parameters): string {
  return `$argon2id$v=19$m=${memoryCost},t=${timeCost},p=${parallelism}$`
}

/** Bounds on the password-hashing work, the one expensive thing the token and sign-up routes do. */
export interface HashingLimits {
  /** Hashes computed at once. Default: the number of CPUs. */
  concurrency: number
  /** Hash requests waiting for a slot; past this the route answers 503 at once. Default `256`. */
  maxQueue: number
  /** Seconds a shed request is told to wait (`Retry-After`). Default `1`. */
  retryAfter: number
  /**
   * Hash in worker threads at the lowest OS priority (see `LowPriorityPool`) rather than in libuv's thread
   * pool. Default: on Linux, where a thread can lower its own priority.
   */
  lowPriority?: boolean
}

/**
 * argon2id hashing off the event loop (low-priority worker threads, or libuv's thread pool) behind a bounded
 * queue. Past the queue the caller gets a 503 `temporarily_unavailable` at once, instead of piling up
 * latency for everyone.
 */
export class PasswordHasher {
  readonly #limits: HashingLimits
  readonly #waiting: Array<() => void> = []
  #running = 0
  /**
   * What an unknown user's password is verified against: the current parameters, a random salt and a
   * random digest. Verifying costs exactly what a real hash costs, and making it costs no hash at all, so
   * no hashing happens outside the bounded queue. No password matches it (that would take a preimage).
   */
  readonly #dummyHash: string
  readonly #argon2: Argon2Parameters
  readonly #currentPrefix: string
  /** With `lowPriority`: the threads the hashes run on. */
  readonly #pool: LowPriorityPool | null

  /** `argon2`: the pinned OWASP parameters, unless the testing kit's `testHashing` option gives others. */
  constructor (limits: HashingLimits, argon2: Argon2Parameters = ARGON2_OPTIONS) {
    this.#limits = { ...limits }
    this.#argon2 = { ...argon2 }
    this.#currentPrefix = phcPrefix(argon2)
    this.#dummyHash = `${this.#currentPrefix}${phcBase64(randomBytes(16))}$${phcBase64(randomBytes(32))}`
    this.#pool = limits.lowPriority === true ? new LowPriorityPool(limits.concurrency) : null
  }

  /** The low-priority threads, when hashing runs on them (for tests and diagnostics). */
  get pool (): LowPriorityPool | null {
    return this.#pool
  }

  /** Ends the hashing threads, if any (the plugin does it when the app closes). */
  async close (): Promise<void> {
    await this.#pool?.close()
  }

  /** Hashes a password with this hasher's argon2id parameters (the pinned ones in production). */
  async hash (password: string): Promise<string> {
    const pool = this.#pool
    return this.#withSlot(() => pool === null ? argon2Hash(password, this.#argon2) : pool.hash(password, this.#argon2))
  }

  /**
   * Verifies a password against a stored hash: argon2 (PHC string), or Django's `pbkdf2_sha256$…` and
   * `argon2$argon2id$…` (users moved over from Django; `needsRehash` is true for them). A hash this library
   * cannot read verifies as false. With `null` (an unknown user) it verifies against a dummy hash, so both
   * failures cost the same time.
   */
  async verify (passwordHash: string | null, password: string): Promise<boolean> {
    if (passwordHash === null) {
      await this.#withSlot(() => this.#verifyPhc(this.#dummyHash, password))
      return false
    }
    if (isDjangoPbkdf2Hash(passwordHash)) return this.#withSlot(() => verifyDjangoPbkdf2(passwordHash, password))
    return this.#withSlot(() => this.#verifyPhc(argon2PhcString(passwordHash), password))
  }

  /** Whether a stored hash was made with other parameters than the current ones. */
  needsRehash (passwordHash: string): boolean {
    return !passwordHash.startsWith(this.#currentPrefix)
  }

  /** Hashes waiting for a slot now (for tests and metrics). */
  get queued (): number {
    return this.#waiting.length
  }

  async #verifyPhc (phc: string, password: string): Promise<boolean> {
    return this.#pool === null ? await safeVerify(phc, password) : await this.#pool.verify(phc, password)
  }

  async #withSlot<T> (work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limits.concurrency) {
      if (this.#waiting.length >= this.#limits.maxQueue) {
        throw new OAuth2Error('temporarily_unavailable', 'The server is busy; retry later.', 503, {
          'retry-after': String(this.#limits.retryAfter)
        })
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve))
    } else {
      this.#running++
    }
    try {
      return await work()
    } finally {
      // Hand the slot straight to the next waiter, so `#running` never drops and rises again in between.
      const next = this.#waiting.shift()
      if (next === undefined) this.#running--
      else next()
    }
  }
}

/** PHC strings carry base64 without padding. */
function phcBase64 (bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '')
}

async function safeVerify (passwordHash: string, password: string): Promise<boolean> {
  try {
    return await argon2Verify(passwordHash, password)
  } catch {
    return false
  }
}
