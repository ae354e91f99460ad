import type { AccessTokenRecord } from '../store/store.js'

/** Why an access token cannot be used, or `'live'`. */
export type AccessTokenState = 'live' | 'revoked' | 'expired' | 'orphaned'

/**
 * The one liveness rule of access tokens, for the bearer guard and introspection alike. The record's own
 * state first, so that a dead token costs no user lookup: revoked or rotated, then expired. Then its user:
 * call again with `hasUser` once the user is resolved (a user token whose user is gone is dead).
 */
export function accessTokenState (token: AccessTokenRecord, now: number, hasUser = true): AccessTokenState {
  if (token.revokedAt !== null || token.rotatedAt !== null) return 'revoked'
  if (token.accessExpiresAt <= now) return 'expired'
  if (token.userId !== null && !hasUser) return 'orphaned'
  return 'live'
}
