import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { hashToken } from '../crypto/tokens.js'
import { OAuth2Error, sendOAuth2Error } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import type { GuardOptions, OAuth2User } from '../types.js'

/** RFC 6750 §2.1 `b64token`, after a case-insensitive `Bearer` scheme. */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i
const BEARER_SCHEME = /^bearer(?: |$)/i
/** Our tokens are 43 characters; anything much longer is not worth hashing. */
const MAX_TOKEN_LENGTH = 512

/**
 * Builds guards: hooks that authenticate a request's bearer token (RFC 6750) and decorate the request
 * with `oauth` and the user, or answer 401/403 with the RFC 6750 challenge.
 */
export function guardFactory (options: ResolvedOptions): (guard?: GuardOptions) => onRequestAsyncHookHandler {
  const { store, realm, decorator } = options
  const challenge = `Bearer realm="${realm}"`

  function reject (reply: FastifyReply, error: 'invalid_token' | 'insufficient_scope', description: string, extra = ''): FastifyReply {
    const status = error === 'invalid_token' ? 401 : 403
    const header = `${challenge}, error="${error}", error_description="${description}"${extra}`
    return sendOAuth2Error(reply, new OAuth2Error(error, description, status, { 'www-authenticate': header }))
  }

  return function authenticate (guard: GuardOptions = {}): onRequestAsyncHookHandler {
    const requiredScopes = [...(guard.scopes ?? [])]
    const optional = guard.optional === true
    const scopeParam = requiredScopes.length > 0 ? `, scope="${requiredScopes.join(' ')}"` : ''

    return async function oauth2Guard (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
      const header = request.headers.authorization
      if (header === undefined || !BEARER_SCHEME.test(header)) {
        if (optional) return undefined
        // RFC 6750 §3.1: no error code when the request carries no token at all.
        return sendOAuth2Error(reply, new OAuth2Error('unauthorized', 'Authentication credentials were not provided.', 401, {
          'www-authenticate': challenge
        }))
      }
      const match = header.length <= MAX_TOKEN_LENGTH + 16 ? BEARER.exec(header) : null
      if (match === null) return reject(reply, 'invalid_token', 'The access token is malformed.')
      const found = await store.findByAccessTokenHash(hashToken(match[1] as string))
      if (found === null) return reject(reply, 'invalid_token', 'The access token is invalid.')
      const { token, user } = found
      if (token.revokedAt !== null || token.rotatedAt !== null || (token.userId !== null && user === null)) {
        return reject(reply, 'invalid_token', 'The access token is invalid.')
      }
      if (token.accessExpiresAt <= options.now()) return reject(reply, 'invalid_token', 'The access token has expired.')
      if (!requiredScopes.every((s) => token.scopes.includes(s))) {
        return reject(reply, 'insufficient_scope', 'The access token lacks a required scope.', scopeParam)
      }
      const publicUser: OAuth2User | null = user === null ? null : { id: user.id, username: user.username }
      request.oauth = { user: publicUser, clientId: token.clientId, scopes: token.scopes, expiresAt: new Date(token.accessExpiresAt) }
      ;(request as unknown as Record<string, unknown>)[decorator] = publicUser
      return undefined
    }
  }
}
