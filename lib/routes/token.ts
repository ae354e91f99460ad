import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { authenticateClient, type ClientParameters } from '../auth/client-auth.js'
import { logIn } from '../auth/login.js'
import { checkBrowserRequest, readRefreshCookie, refreshCookiePath, setRefreshCookie } from '../auth/refresh-cookie.js'
import { authorizationCodeGrant } from './authorization-code-grant.js'
import { generateToken, hashToken, timeOrderedId } from '../crypto/tokens.js'
import { OAuth2Error } from '../errors.js'
import { MAX_REFRESH_EXCHANGES } from '../options.js'
import { grantScopes, narrowScopes } from '../scopes.js'
import type { ClientRecord, GrantType, NewToken } from '../store/store.js'
import type { RouteContext } from './context.js'
import { bodyString, clientCredentialsProperties } from './common.js'
import { withBrowserCors, type OriginCheck } from './cors.js'
import { CONSUMES, documented, NO_STORE_HEADERS, OPENAPI_TAG, responses } from './openapi.js'

/** The token endpoint's parameters (RFC 6749 §4.3.2, §6, §2.3.1). */
export interface TokenRequestBody extends ClientParameters {
  grant_type?: string
  username?: string
  password?: string
  refresh_token?: string
  scope?: string
  code?: string
  redirect_uri?: string
  code_verifier?: string
}

/** The successful token response (RFC 6749 §5.1), in Django OAuth Toolkit's field order. */
export interface TokenResponse {
  access_token: string
  expires_in: number
  token_type: 'Bearer'
  scope: string
  refresh_token?: string
}

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' }

export const tokenBodySchema = {
  type: 'object',
  properties: {
    grant_type: { ...bodyString(64), description: '`password`, `refresh_token`, `client_credentials` or `authorization_code`.' },
    username: { ...bodyString(1024), description: 'The password grant: the username.' },
    password: { ...bodyString(4096), description: 'The password grant: the password.' },
    refresh_token: { ...bodyString(512), description: 'The refresh_token grant: the refresh token to exchange.' },
    scope: { ...bodyString(1024), description: 'Space-separated scopes; default: the default scopes (refresh: the same).' },
    code: { ...bodyString(512), description: 'The authorization_code grant: the code.' },
    redirect_uri: { ...bodyString(2048), description: 'The authorization_code grant: the redirect URI the code was sent to.' },
    code_verifier: { ...bodyString(128), description: 'The authorization_code grant: the PKCE code verifier (RFC 7636).' },
    ...clientCredentialsProperties()
  }
} as const

/** The whole schema of the token route, for validation and for @fastify/swagger. */
export const tokenRouteSchema = {
  summary: 'Token endpoint (RFC 6749 §3.2)',
  description: 'Issues tokens for the `password`, `refresh_token`, `client_credentials` (confidential clients) ' +
    'and `authorization_code` (with its PKCE `code_verifier`) grants. ' +
    'Public clients send `client_id`; confidential ones authenticate with HTTP Basic or `client_secret`. ' +
    'A refresh rotates: the old access and refresh tokens stop working. Parameters in the query string are refused.',
  tags: [OPENAPI_TAG],
  consumes: CONSUMES,
  body: tokenBodySchema,
  response: responses({
    200: {
      description: 'The tokens (RFC 6749 §5.1), in Django OAuth Toolkit\'s field order.',
      type: 'object',
      required: ['access_token', 'expires_in', 'token_type', 'scope'],
      properties: {
        access_token: { type: 'string', description: 'An opaque bearer token.' },
        expires_in: { type: 'integer', description: 'Seconds the access token lives.' },
        token_type: { type: 'string', enum: ['Bearer'] },
        scope: { type: 'string', description: 'The granted scopes, space-separated.' },
        refresh_token: { type: 'string', description: 'Absent for `client_credentials`, and for clients without the `refresh_token` grant.' }
      },
      headers: NO_STORE_HEADERS
    }
  }, [400, 401, 413, 415, 429, 503])
}

/** What `issue` makes a token record and its response from. */
export interface IssueParams {
  clientId: string
  userId: string | null
  scopes: string[]
  withRefreshToken: boolean
  familyId?: string
  parentId?: string
}

function missing (name: string): OAuth2Error {
  return new OAuth2Error('invalid_request', `Request is missing ${name} parameter.`)
}

function required (body: TokenRequestBody, name: 'username' | 'password' | 'refresh_token'): string {
  const value = body[name]
  if (value === undefined || value === '') throw missing(name)
  return value
}

/** The token endpoint: one function per grant, client authentication first, errors rendered by the context. */
export function tokenRoute (app: FastifyInstance, ctx: RouteContext, browserOrigins: OriginCheck): void {
  const { options, store, users, tokenCache: cache } = ctx
  const cookiePath = refreshCookiePath(`${app.prefix}${options.routes.token}`)

  function issue (params: IssueParams): { record: NewToken, response: TokenResponse } {
    const now = options.now()
    const id = timeOrderedId(now)
    const accessToken = generateToken()
    const refreshToken = params.withRefreshToken ? generateToken() : null
    const record: NewToken = {
      id,
      familyId: params.familyId ?? id,
      parentId: params.parentId ?? null,
      clientId: params.clientId,
      userId: params.userId,
      scopes: params.scopes,
      accessTokenHash: hashToken(accessToken),
      refreshTokenHash: refreshToken === null ? null : hashToken(refreshToken),
      accessExpiresAt: now + options.accessTokenTtl * 1000,
      refreshExpiresAt: refreshToken === null ? null : now + options.refreshTokenTtl * 1000,
      createdAt: now
    }
    const response: TokenResponse = {
      access_token: accessToken,
      expires_in: options.accessTokenTtl,
      token_type: 'Bearer',
      scope: params.scopes.join(' ')
    }
    if (refreshToken !== null) response.refresh_token = refreshToken
    return { record, response }
  }

  /** RFC 6749 §4.3: the resource owner password credentials grant. */
  async function passwordGrant (client: ClientRecord, body: TokenRequestBody, ip: string): Promise<TokenResponse> {
    const username = required(body, 'username')
    const password = required(body, 'password')
    const scopes = grantScopes(body.scope, client, options)
    // Throttled (counted first, atomically), then checked: see logIn.
    const userId = await logIn(ctx, username, password, ip)
    const { record, response } = issue({
      clientId: client.id,
      userId,
      scopes,
      withRefreshToken: client.grants.includes('refresh_token')
    })
    await store.createToken(record)
    return response
  }

  const reuseMs = options.refreshTokenReuseInterval * 1000
  // With no window a token is exchanged once: a racing request's clock may read a moment before the
  // winner's rotation, which `since` alone would take for "inside the window".
  const maxExchanges = reuseMs > 0 ? MAX_REFRESH_EXCHANGES : 1
  /** Whether a refresh token rotated at `rotatedAt` is presented after its reuse window: a replay. */
  const replayed = (rotatedAt: number, now: number): boolean => now - rotatedAt >= reuseMs

  /** A replayed refresh token ends its family (RFC 9700 §4.14.2): whoever holds any of its tokens. */
  async function endFamily (familyId: string): Promise<void> {
    await store.revokeFamily(familyId, options.now())
    cache.invalidateFamily(familyId)
  }

  /**
   * RFC 6749 §6 with rotation and reuse detection (RFC 9700 §4.14.2). Inside the reuse window a rotated
   * token is exchanged again, up to MAX_REFRESH_EXCHANGES times in all, each time for a pair of its own
   * that works and refreshes onward; past the bound a racing request is refused and the family lives.
   * Presented after the window, it ends the family.
   */
  async function refreshTokenGrant (client: ClientRecord, body: TokenRequestBody): Promise<TokenResponse> {
    const presented = required(body, 'refresh_token')
    const hash = hashToken(presented)
    const now = options.now()
    // Made only when thrown, as a stack trace costs.
    const invalid = (): OAuth2Error => new OAuth2Error('invalid_grant', 'The refresh token is invalid, expired or revoked.')
    const current = await store.findByRefreshTokenHash(hash)
    if (current === null || current.clientId !== client.id) throw invalid()
    if (current.refreshExpiresAt === null || current.refreshExpiresAt <= now) throw invalid()
    // A rotated record is checked for reuse even when revoked since: a replay must always end the family.
    if (current.rotatedAt !== null && replayed(current.rotatedAt, now)) {
      await endFamily(current.familyId)
      throw invalid()
    }
    if (current.revokedAt !== null) throw invalid()
    if (current.userId !== null && !await users.exists(current.userId)) throw invalid()
    const scopes = narrowScopes(body.scope, current.scopes)
    const { record, response } = issue({
      clientId: client.id,
      userId: current.userId,
      scopes,
      withRefreshToken: true,
      familyId: current.familyId,
      parentId: current.id
    })
    // The compare-and-swap: of concurrent exchanges of one token, exactly one rotates it.
    if (await store.rotateRefreshToken(current.id, record, now, { since: now - reuseMs, maxExchanges })) {
      // The rotated record's access token dies with its refresh token, at once in this process too.
      cache.invalidateToken(current.id)
      return response
    }
    // Refused: revoked meanwhile, exchanged too often inside the window, or (with no window) a second
    // exchange that raced the first: a replay by the rules, which ends the family.
    const after = await store.findByRefreshTokenHash(hash)
    if (after?.rotatedAt != null && replayed(after.rotatedAt, options.now())) await endFamily(current.familyId)
    throw invalid()
  }

  /** RFC 6749 §4.4: a confidential client acting for itself; no user, no refresh token (§4.4.3). */
  async function clientCredentialsGrant (client: ClientRecord, body: TokenRequestBody): Promise<TokenResponse> {
    if (client.type !== 'confidential') {
      throw new OAuth2Error('unauthorized_client', 'The client_credentials grant is for confidential clients only.')
    }
    const scopes = grantScopes(body.scope, client, options)
    const { record, response } = issue({ clientId: client.id, userId: null, scopes, withRefreshToken: false })
    await store.createToken(record)
    return response
  }

  const grants: Record<GrantType, (client: ClientRecord, body: TokenRequestBody, ip: string) => Promise<TokenResponse>> = {
    password: passwordGrant,
    refresh_token: refreshTokenGrant,
    client_credentials: clientCredentialsGrant,
    authorization_code: authorizationCodeGrant(ctx, issue, endFamily)
  }

  async function handler (request: FastifyRequest<{ Body: TokenRequestBody }>, reply: FastifyReply): Promise<TokenResponse> {
    reply.headers(NO_STORE)
    let body = request.body
    const client = await authenticateClient(store, request, body, options.realm)
    if (client.refreshCookie) {
      // Before any grant runs: a refused request changes nothing (no login counted, no rotation).
      checkBrowserRequest(request, client)
      if (body.refresh_token === undefined || body.refresh_token === '') {
        body = { ...body, refresh_token: readRefreshCookie(request, client) }
      }
    }
    const grantType = body.grant_type
    if (grantType === undefined || grantType === '') throw missing('grant_type')
    const grant = Object.hasOwn(grants, grantType) ? grants[grantType as GrantType] : undefined
    if (grant === undefined) {
      throw new OAuth2Error('unsupported_grant_type', 'The grant type is not supported by this server.')
    }
    if (!client.grants.includes(grantType as GrantType)) {
      throw new OAuth2Error('unauthorized_client', 'The client is not allowed to use this grant type.')
    }
    const response = await grant(client, body, request.ip)
    // A browser client's refresh token goes in its HttpOnly cookie, never in the body JavaScript reads.
    if (client.refreshCookie && response.refresh_token !== undefined) {
      setRefreshCookie(request, reply, client, cookiePath, response.refresh_token, options.refreshTokenTtl)
      delete response.refresh_token
    }
    return response
  }

  withBrowserCors(app, options.routes.token, browserOrigins, (scope, url, relative) => {
    scope.post<{ Body: TokenRequestBody }>(relative, {
      schema: documented(tokenRouteSchema, url, options.routes.token),
      prefixTrailingSlash: 'slash'
    }, handler)
  })
}
