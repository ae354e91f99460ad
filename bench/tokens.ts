/**
 * The seeded tokens: token `i` is derived from `i` alone, so the seeding inserts a million of them without
 * keeping any, and the load generator rebuilds whichever it sends. They need not be random, only distinct:
 * the stored SHA-256 of each (the indexed column the bearer check searches) is as scattered as a real
 * token's. PostgreSQL derives them in SQL the same way (see `seedPostgres` in seed.ts).
 */

/** Users the seeded tokens are spread over. */
export const BENCH_USERS = 1000

/** 33 characters that fill token `i` to 43, the length of the plugin's own tokens. */
export const TOKEN_FILL = 'bench-token-0123456789abcdefghijk'

/** The access token `i`: `i` in 10 digits, then `TOKEN_FILL` (43 base64url characters in all). */
export function benchToken (i: number): string {
  return String(i).padStart(10, '0') + TOKEN_FILL
}

/** The id of token record `i` (zero-padded, so that ids insert in index order). */
export function benchTokenId (i: number): string {
  return `bench-${String(i).padStart(8, '0')}`
}

/** The stored refresh-token hash of record `i`: distinct and hash-sized (no refresh token is ever sent). */
export function benchRefreshHash (i: number): string {
  return `refresh-${String(i).padStart(10, '0')}`.padEnd(64, '0')
}

/** The id of seeded user `u`. */
export function benchUserId (u: number): string {
  return `bench-user-${String(u).padStart(4, '0')}`
}
