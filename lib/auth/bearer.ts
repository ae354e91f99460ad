import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { hashToken } from '../crypto/tokens.js'
import { asStoreFailure, OAuth2Error, sendOAuth2Error, serverFailure } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import type { AccessTokenLookup, AccessTokenRecord } from '../store/store.js'
import type { BearerStrategy, GuardOptions, OAuth2User } from '../types.js'
import { accessTokenState, orphaned, type AccessTokenState } from './liveness.js'
import { TokenCache, type VerifiedToken } from './token-cache.js'
import { tokenUserResolver } from './user-directory.js'

/** RFC 6750 §2.1 `b64token`, after a case-insensitive `Bearer` scheme. */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i
const BEARER_SCHEME = /^bearer(?: |$)/i
/** Our tokens are 43 characters; anything much longer is not worth hashing. */
const MAX_TOKEN_LENGTH = 512

/** What a dead token is told (RFC 6750 `error_description`). */
const DEAD: Record<Exclude<AccessTokenState, 'live'>, string> = {
  revoked: 'The access token is invalid.',
  orphaned: 'The access token is invalid.',
  expired: 'The access token has expired.'
}

/** The two ways a failed bearer check ends: the guard answers it, the @fastify/auth strategy throws it. */
type Failure = (reply: FastifyReply, error: OAuth2Error) => FastifyReply

const answer: Failure = sendOAuth2Error
const raise: Failure = (_reply, error) => { throw error }

/** The bearer checks of one plugin instance (`app.oauth2.authenticate` and `app.oauth2.verifyBearer`). */
export interface Guards {
  authenticate: (guard?: GuardOptions) => onRequestAsyncHookHandler
  verifyBearer: (guard?: GuardOptions) => BearerStrategy
}

/**
 * Builds guards: hooks that authenticate a request's bearer token (RFC 6750) and decorate the request
 * with `oauth` and the user, or answer 401/403 with the RFC 6750 challenge (`authenticate`), or fail with
 * that answer as an `OAuth2Error` for the next @fastify/auth strategy (`verifyBearer`).
 */
export function guardFactory (options: ResolvedOptions, cache = new TokenCache(false)): Guards {
  const { store, realm, decorator } = options
  const resolveUser = tokenUserResolver(options)
  const challenge = `Bearer realm="${realm}"`

  function rejection (error: 'invalid_token' | 'insufficient_scope', description: string, extra = ''): OAuth2Error {
    const status = error === 'invalid_token' ? 401 : 403
    const header = `${challenge}, error="${error}", error_description="${description}"${extra}`
    return new OAuth2Error(error, description, status, { 'www-authenticate': header })
  }

  function check (guard: GuardOptions, fail: Failure): onRequestAsyncHookHandler {
    const reject = (reply: FastifyReply, error: 'invalid_token' | 'insufficient_scope', description: string, extra?: string): FastifyReply =>
      fail(reply, rejection(error, description, extra))
    const requiredScopes = [...(guard.scopes ?? [])]
    const optional = guard.optional === true
    const scopeParam = requiredScopes.length > 0 ? `, scope="${requiredScopes.join(' ')}"` : ''

    /** Checks the scopes and decorates the request; `user` and `scopes` become the request's own. */
    function admit (request: FastifyRequest, reply: FastifyReply, user: OAuth2User | null, clientId: string,
      scopes: string[], expiresAt: number): FastifyReply | undefined {
      if (!includesAll(scopes, requiredScopes)) {
        return reject(reply, 'insufficient_scope', 'The access token lacks a required scope.', scopeParam)
      }
      request.oauth = { user, clientId, scopes, expiresAt: new Date(expiresAt) }
      ;(request as unknown as Record<string, unknown>)[decorator] = user
      return undefined
    }

    // The per-request hot path: one regular expression, one SHA-256, then a cache hit or one store lookup.
    return async function oauth2Guard (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
      const header = request.headers.authorization
      const match = header !== undefined && header.length <= MAX_TOKEN_LENGTH + 16 ? BEARER.exec(header) : null
      if (match === null) {
        if (header === undefined || !BEARER_SCHEME.test(header)) {
          if (optional) return undefined
          // RFC 6750 §3.1: no error code when the request carries no token at all.
          return fail(reply, new OAuth2Error('unauthorized', 'Authentication credentials were not provided.', 401, {
            'www-authenticate': challenge
          }))
        }
        return reject(reply, 'invalid_token', 'The access token is malformed.')
      }
      const hash = hashToken(match[1] as string)
      const now = options.now()
      const cached = cache.get(hash, now)
      if (cached !== undefined) {
        // Each request gets its own copies: a route that changes its request.user changes nothing cached.
        const user = cached.user === null ? null : { ...cached.user }
        return admit(request, reply, user, cached.clientId, [...cached.scopes], cached.accessExpiresAt)
      }
      const epoch = cache.epoch
      let found: AccessTokenLookup | null
      try {
        found = await store.findByAccessTokenHash(hash)
      } catch (err) {
        return fail(reply, serverFailure(request, asStoreFailure(err)))
      }
      if (found === null) return reject(reply, 'invalid_token', 'The access token is invalid.')
      const { token } = found
      const state = accessTokenState(token, now)
      if (state !== 'live') return reject(reply, 'invalid_token', DEAD[state])
      // The store's user, or the app's own (the `users` option); a user token whose user is gone is dead.
      // The store's user is at hand: no await (and no extra turn of the microtask queue) for it.
      let user: OAuth2User | null
      try {
        const resolved = resolveUser(found)
        user = resolved instanceof Promise ? await resolved : resolved
      } catch (err) {
        return fail(reply, serverFailure(request, asStoreFailure(err)))
      }
      if (orphaned(token, user)) return reject(reply, 'invalid_token', DEAD.orphaned)
      if (cache.enabled) cache.set(hash, verifiedToken(token, user), epoch, now)
      return admit(request, reply, user, token.clientId, token.scopes, token.accessExpiresAt)
    }
  }

  return {
    authenticate: (guard = {}) => check(guard, answer),
    verifyBearer: (guard = {}) => {
      const strategy = check(guard, raise)
      // @fastify/auth counts a resolved promise as success: resolve with nothing, reject with the OAuth2Error.
      return async function oauth2BearerStrategy (request, reply) {
        await strategy.call(request.server, request, reply)
      }
    }
  }
}

/** Whether `scopes` has every one of `required` (a loop: no closure per request). */
function includesAll (scopes: readonly string[], required: readonly string[]): boolean {
  for (const scope of required) {
    if (!scopes.includes(scope)) return false
  }
  return true
}

/** What the cache keeps of a token the store has verified: frozen copies, never the request's objects. */
function verifiedToken (token: AccessTokenRecord, user: OAuth2User | null): VerifiedToken {
  return Object.freeze({
    tokenId: token.id,
    familyId: token.familyId,
    userId: token.userId,
    clientId: token.clientId,
    scopes: Object.freeze([...token.scopes]),
    user: user === null ? null : Object.freeze({ ...user }),
    accessExpiresAt: token.accessExpiresAt
  })
}
