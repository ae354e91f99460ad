import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto'

/** Bytes of randomness in every token and client secret: 256 bits. */
export const TOKEN_BYTES = 32

/** How many random bytes `randomSlice` draws from the system's generator at a time. */
export const RANDOM_POOL_BYTES = 4096

let randomPool = Buffer.alloc(0)
let randomOffset = 0

/**
 * `size` bytes from Node's CSPRNG, cut from a pool of RANDOM_POOL_BYTES drawn at once (as Node's own
 * `randomUUID` does): every `randomBytes` call sets up a job of its own, which costs far more than the few
 * bytes a token needs, and a login draws three times. Each byte is handed out once: a used-up pool is
 * replaced by a new buffer, never refilled in place, so the bytes a caller holds never change under it.
 */
export function randomSlice (size: number): Buffer {
  if (size > RANDOM_POOL_BYTES) return randomBytes(size)
  if (randomOffset + size > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES)
    randomOffset = 0
  }
  const bytes = randomPool.subarray(randomOffset, randomOffset + size)
  randomOffset += size
  return bytes
}

/** A new opaque token: 256 random bits, base64url (43 characters). */
export function generateToken (): string {
  return randomSlice(TOKEN_BYTES).toString('base64url')
}

/**
 * A new `client_id`: 144 random bits, base64url (24 characters), safe in HTTP Basic and URLs, and never
 * starting with "-", which a command line (the CLI's `client rotate-secret <id>`) would read as an option.
 * One draw in 64 starts with it and is drawn again.
 */
export function generateClientId (): string {
  for (;;) {
    const id = randomSlice(18).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

/**
 * A new token record id: a UUID version 7 (RFC 9562 §5.7), the creation time in milliseconds (`now`, the
 * plugin's clock) in its first 48 bits, then 74 random bits. Ids sort by creation time, so the tokens
 * table's primary key (and the family index, keyed by a family's first id) takes new records at its end
 * and the expiry cleanup deletes old ones from its start, instead of touching a random page of each for
 * every row. The id is no secret: the tokens themselves are `generateToken()`'s.
 */
export function timeOrderedId (now: number): string {
  const bytes = randomSlice(16)
  const ms = Math.min(Math.max(Math.floor(now), 0), 2 ** 48 - 1)
  bytes.writeUIntBE(ms, 0, 6)
  bytes[6] = 0x70 | ((bytes[6] as number) & 0x0f)
  bytes[8] = 0x80 | ((bytes[8] as number) & 0x3f)
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/**
 * SHA-256 of a token or secret, hex. Only these hashes are stored. It runs on every bearer check: the
 * one-shot `crypto.hash` (Node 20.12+) costs a fraction of a `createHash` object's set-up.
 */
export function hashToken (token: string): string {
  return hash('sha256', token, 'hex')
}

/**
 * Whether `secret` hashes to `expectedHash`, compared in constant time. Hashing first makes both sides
 * the same length whatever the caller sent, so the comparison leaks neither length nor content.
 */
export function secretMatches (secret: string, expectedHash: string): boolean {
  const actual = createHash('sha256').update(secret, 'utf8').digest()
  const expected = Buffer.from(expectedHash, 'hex')
  return expected.length === actual.length && timingSafeEqual(actual, expected)
}
