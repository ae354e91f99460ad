/**
 * The optional in-process cache of verified access tokens (option `tokenCache`, off by default).
 *
 * A hit spares the bearer check its store lookup. An entry lives at most `ttl` seconds and never past its
 * token's expiry; when the cache is full an entry not used lately goes (a second-chance approximation of
 * least-recently-used, which costs a hit one flag instead of a reordering). Revocations made by this
 * process (refresh rotation, reuse detection, the revocation endpoint, `revokeUserTokens`) drop the
 * matching entries at once. Revocations made elsewhere (another server instance, the CLI, a direct
 * database change) reach this process when its entries expire, that is within `ttl` seconds.
 */
import type { RevocationEvent } from '../store/store.js'
import type { OAuth2User } from '../types.js'

/** Bounds of the cache: most entries held, and seconds an entry lives. */
export interface TokenCacheLimits {
  /** Most tokens held; one not used lately goes first. */
  max: number
  /** Seconds a verified token is trusted without asking the store again. */
  ttl: number
}

/** What the bearer guard needs of a token it has verified with the store. */
export interface VerifiedToken {
  /** The token record's id. */
  readonly tokenId: string
  readonly familyId: string
  readonly userId: string | null
  readonly clientId: string
  readonly scopes: readonly string[]
  /** The user as routes see it; `null` for client-credentials tokens. Frozen: each request gets a copy. */
  readonly user: Readonly<OAuth2User> | null
  readonly accessExpiresAt: number
}

interface Entry {
  readonly token: VerifiedToken
  /** The entry is dropped at this time (ms): the earlier of its TTL and the token's expiry. */
  readonly deadline: number
  /** Hit since eviction last passed it over: it gets a second chance. */
  used: boolean
}

/**
 * The cache of one plugin registration, keyed by the SHA-256 hash of the access token (never the token).
 * With `false` it holds nothing and costs one map lookup; its invalidation methods still work, so the
 * plugin's code paths call them unconditionally.
 */
export class TokenCache {
  readonly #max: number
  readonly #ttlMs: number
  /** By access-token hash, oldest (or passed over longest ago) first: a `Map` iterates in insertion order. */
  readonly #entries = new Map<string, Entry>()
  /** Token record id → access-token hash, for dropping one record's entry without a scan. */
  readonly #hashByTokenId = new Map<string, string>()
  #epoch = 0

  constructor (limits: TokenCacheLimits | false) {
    this.#max = limits === false ? 0 : limits.max
    this.#ttlMs = limits === false ? 0 : limits.ttl * 1000
  }

  /** Whether the cache holds anything at all. */
  get enabled (): boolean {
    return this.#max > 0
  }

  /** Entries held now. */
  get size (): number {
    return this.#entries.size
  }

  /**
   * A counter bumped by every invalidation. The guard reads it before its store lookup and hands it to
   * `set`: a lookup that overlapped an invalidation may have read the state before the revocation, so its
   * result is not cached.
   */
  get epoch (): number {
    return this.#epoch
  }

  /** The verified token cached under `accessTokenHash`, unless absent or past its deadline at `now`. */
  get (accessTokenHash: string, now: number): VerifiedToken | undefined {
    const entry = this.#entries.get(accessTokenHash)
    if (entry === undefined) return undefined
    if (entry.deadline <= now) {
      this.#delete(accessTokenHash, entry.token.tokenId)
      return undefined
    }
    entry.used = true
    return entry.token
  }

  /**
   * Caches a token the store has just verified at `now`, unless an invalidation happened since `epoch`
   * was read, or the token expires by then anyway. Evicts an entry when full: the oldest one not used
   * since eviction last passed it over (used ones go to the back, unmarked).
   */
  set (accessTokenHash: string, token: VerifiedToken, epoch: number, now: number): void {
    if (this.#max === 0 || epoch !== this.#epoch) return
    const deadline = Math.min(now + this.#ttlMs, token.accessExpiresAt)
    if (deadline <= now) return
    this.#entries.delete(accessTokenHash)
    // Room first, so that the new entry is never the one evicted. At most one pass over the used
    // entries: each is unmarked as it goes to the back.
    while (this.#entries.size >= this.#max) {
      const [oldestHash, oldest] = this.#entries.entries().next().value as [string, Entry]
      if (oldest.used) {
        oldest.used = false
        this.#entries.delete(oldestHash)
        this.#entries.set(oldestHash, oldest)
      } else {
        this.#delete(oldestHash, oldest.token.tokenId)
      }
    }
    this.#entries.set(accessTokenHash, { token, deadline, used: false })
    this.#hashByTokenId.set(token.tokenId, accessTokenHash)
  }

  /** Drops the entry of one token record (revoked, or rotated by a refresh). */
  invalidateToken (tokenId: string): void {
    this.#epoch++
    const hash = this.#hashByTokenId.get(tokenId)
    if (hash !== undefined) this.#delete(hash, tokenId)
  }

  /** Drops every entry of a token family (a revoked login session, a replayed refresh token). */
  invalidateFamily (familyId: string): void {
    this.#epoch++
    // Revoking a family is rare next to bearer checks: a scan of at most `max` entries beats an index
    // maintained on every miss.
    for (const [hash, { token }] of this.#entries) {
      if (token.familyId === familyId) this.#delete(hash, token.tokenId)
    }
  }

  /** Drops every entry of a user ("log out everywhere"). */
  invalidateUser (userId: string): void {
    this.#epoch++
    for (const [hash, { token }] of this.#entries) {
      if (token.userId === userId) this.#delete(hash, token.tokenId)
    }
  }

  /** Drops every entry of a client (its tokens revoked, or the client deleted). */
  invalidateClient (clientId: string): void {
    this.#epoch++
    for (const [hash, { token }] of this.#entries) {
      if (token.clientId === clientId) this.#delete(hash, token.tokenId)
    }
  }

  /** Drops what a revocation made elsewhere names (`all`: everything). */
  apply (event: RevocationEvent): void {
    if (event.kind === 'all') this.clear()
    else if (event.kind === 'token') this.invalidateToken(event.id)
    else if (event.kind === 'family') this.invalidateFamily(event.id)
    else if (event.kind === 'user') this.invalidateUser(event.id)
    else this.invalidateClient(event.id)
  }

  /** Drops everything. */
  clear (): void {
    this.#epoch++
    this.#entries.clear()
    this.#hashByTokenId.clear()
  }

  #delete (hash: string, tokenId: string): void {
    this.#entries.delete(hash)
    this.#hashByTokenId.delete(tokenId)
  }
}
