import type { AccessTokenRecord } from '../store/store.js'

/** Why an access token cannot be used, or `'live'`. */
export type AccessTokenState = 'live' | 'revoked' | 'expired' | 'orphaned'

/**
 * The one liveness rule of access tokens, for the bearer guard and introspection alike, in two steps. The
 * record's own state first, so that a dead token costs no user lookup: revoked or rotated, then expired.
 */
export function accessTokenState (token: AccessTokenRecord, now: number): Exclude<AccessTokenState, 'orphaned'> {
  if (token.revokedAt !== null || token.rotatedAt !== null) return 'revoked'
  if (token.accessExpiresAt <= now) return 'expired'
  return 'live'
}

/** Then its user, once resolved: a user token whose user is gone is dead. */
export function orphaned (token: AccessTokenRecord, user: unknown): boolean {
  return token.userId !== null && user === null
}
