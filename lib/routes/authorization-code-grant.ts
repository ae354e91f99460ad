import { createHash, timingSafeEqual } from 'node:crypto'
import { hashToken } from '../crypto/tokens.js'
import { OAuth2Error } from '../errors.js'
import type { ClientRecord, NewToken } from '../store/store.js'
import type { RouteContext } from './context.js'
import type { IssueParams, TokenRequestBody, TokenResponse } from './token.js'

/** A PKCE code verifier (RFC 7636 §4.1): 43 to 128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/

/** Whether `verifier` is the one `challenge` was made from by S256, compared in constant time. */
export function verifierMatches (verifier: string, challenge: string): boolean {
  if (!CODE_VERIFIER.test(verifier)) return false
  const actual = createHash('sha256').update(verifier, 'ascii').digest()
  const expected = Buffer.from(challenge, 'base64url')
  return expected.length === actual.length && timingSafeEqual(actual, expected)
}

/**
 * RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6): exchanges a code, once, for a new token family. Every binding
 * is checked (unused, unexpired, this client, the same redirection URI, the verifier, a user who still
 * exists) before the code is redeemed in one compare-and-swap with the tokens' insert. A code presented
 * again, or losing a race, ends the family it was exchanged for (§4.1.2). A refused check leaves the code
 * as it was.
 */
export function authorizationCodeGrant (
  ctx: RouteContext,
  issue: (params: IssueParams) => { record: NewToken, response: TokenResponse },
  endFamily: (familyId: string) => Promise<void>
): (client: ClientRecord, body: TokenRequestBody) => Promise<TokenResponse> {
  const { options, store, users } = ctx
  const invalid = (): OAuth2Error => new OAuth2Error('invalid_grant', 'The authorization code is invalid, expired, used, or was issued to another client or redirect URI.')
  const missing = (name: string): OAuth2Error => new OAuth2Error('invalid_request', `Request is missing ${name} parameter.`)

  /** A used code's family ends: whoever redeemed it (a thief, or the client) loses its tokens. */
  async function replayed (codeHash: string): Promise<never> {
    const after = await store.findAuthorizationCode(codeHash)
    if (after?.familyId != null) await endFamily(after.familyId)
    throw invalid()
  }

  return async (client, body) => {
    const { code: presented, redirect_uri: redirectUri, code_verifier: verifier } = body
    if (presented === undefined || presented === '') throw missing('code')
    if (redirectUri === undefined || redirectUri === '') throw missing('redirect_uri')
    if (verifier === undefined || verifier === '') throw missing('code_verifier')
    const codeHash = hashToken(presented)
    const code = await store.findAuthorizationCode(codeHash)
    if (code === null) throw invalid()
    if (code.usedAt !== null) return await replayed(codeHash)
    const now = options.now()
    if (code.expiresAt <= now || code.clientId !== client.id || code.redirectUri !== redirectUri) throw invalid()
    if (!verifierMatches(verifier, code.codeChallenge)) throw invalid()
    if (!await users.exists(code.userId)) throw invalid()
    const { record, response } = issue({
      clientId: client.id,
      userId: code.userId,
      scopes: code.scopes,
      withRefreshToken: client.grants.includes('refresh_token')
    })
    if (await store.redeemAuthorizationCode(codeHash, record, now)) return response
    return await replayed(codeHash)
  }
}
