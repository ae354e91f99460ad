import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { authenticateClient, type ClientParameters } from '../auth/client-auth.js'
import { checkBrowserRequest, refreshCookiePath, setRefreshCookie } from '../auth/refresh-cookie.js'
import { hashToken } from '../crypto/tokens.js'
import { OAuth2Error } from '../errors.js'
import type { AccessTokenRecord, ClientRecord } from '../store/store.js'
import type { RouteContext } from './context.js'
import { bodyString, clientCredentialsProperties } from './common.js'
import { withBrowserCors, type OriginCheck } from './cors.js'
import { CONSUMES, documented, NO_STORE_HEADERS, OPENAPI_TAG, responses } from './openapi.js'

/** The revocation endpoint's parameters (RFC 7009 §2.1, client authentication per RFC 6749 §2.3.1). */
export interface RevokeRequestBody extends ClientParameters {
  token?: string
  token_type_hint?: string
}

export const revokeBodySchema = {
  type: 'object',
  properties: {
    token: { ...bodyString(512), description: 'The access or refresh token to revoke.' },
    token_type_hint: { ...bodyString(64), description: '`access_token` or `refresh_token`: where to look first.' },
    ...clientCredentialsProperties()
  }
} as const

/** The whole schema of the revocation route, for validation and for @fastify/swagger. */
export const revokeRouteSchema = {
  summary: 'Token revocation (RFC 7009)',
  description: 'Revokes a token issued to the calling client: a refresh token ends its whole login, an access ' +
    'token also ends its refresh token. Unknown tokens and tokens of other clients get the same answer.',
  tags: [OPENAPI_TAG],
  consumes: CONSUMES,
  body: revokeBodySchema,
  response: responses({
    200: {
      description: 'Revoked, or nothing to revoke (RFC 7009 §2.2): `{}`, the same for every outcome.',
      type: 'object',
      additionalProperties: false,
      headers: NO_STORE_HEADERS
    }
  }, [400, 401, 413, 415, 503])
}

type TokenKind = 'access_token' | 'refresh_token'

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' }
const EMPTY_OBJECT = '{}'

/**
 * `POST /o/revoke_token/` (RFC 7009). The client identifies itself as at the token endpoint; the token is
 * revoked only if it was issued to that client, and the answer is 200 `{}` whatever became of it (§2.2),
 * so the endpoint tells nobody whether a token exists or whose it is.
 */
export function revokeRoute (app: FastifyInstance, ctx: RouteContext, path: string, browserOrigins: OriginCheck): void {
  const { options, store, tokenCache: cache } = ctx
  const cookiePath = refreshCookiePath(`${app.prefix}${options.routes.token}`)

  async function find (kind: TokenKind, hash: string): Promise<{ kind: TokenKind, record: AccessTokenRecord } | null> {
    const record = kind === 'access_token'
      ? (await store.findByAccessTokenHash(hash))?.token ?? null
      : await store.findByRefreshTokenHash(hash)
    return record === null ? null : { kind, record }
  }

  /** §2.1: the hint says where to look first; it is not trusted, so the other kind is looked up too. */
  async function lookup (token: string, hint: string | undefined): Promise<{ kind: TokenKind, record: AccessTokenRecord } | null> {
    const hash = hashToken(token)
    const order: TokenKind[] = hint === 'refresh_token' ? ['refresh_token', 'access_token'] : ['access_token', 'refresh_token']
    for (const kind of order) {
      const found = await find(kind, hash)
      if (found !== null) return found
    }
    return null
  }

  async function revoke (client: ClientRecord, token: string, hint: string | undefined): Promise<void> {
    const found = await lookup(token, hint)
    // §2.1: a token of another client is left alone, and answered like an unknown one.
    if (found === null || found.record.clientId !== client.id) return
    const { kind, record } = found
    const now = options.now()
    if (kind === 'refresh_token') {
      // The refresh token stands for the whole login (§2.1 "SHOULD also invalidate ... the same
      // authorization grant"): end the family, whatever state this one record is in.
      await store.revokeFamily(record.familyId, now)
      cache.invalidateFamily(record.familyId)
      return
    }
    // An access token that is already dead stays as it is: marking a rotated record revoked would make a
    // replay of its refresh token look merely revoked and skip the reuse detection that ends the family.
    if (record.rotatedAt !== null || record.revokedAt !== null) return
    // Revoking the record ends its refresh token too.
    await store.revokeToken(record.id, now)
    cache.invalidateToken(record.id)
  }

  async function handler (request: FastifyRequest<{ Body: RevokeRequestBody }>, reply: FastifyReply): Promise<FastifyReply> {
    reply.headers(NO_STORE)
    const body = request.body
    const client = await authenticateClient(store, request, body, options.realm)
    // A browser client's revocation is its logout, and its answer clears the cookie: from its own origins
    // and as JSON only, as its token requests, or any site's form could log its users out.
    if (client.refreshCookie) checkBrowserRequest(request, client)
    const token = body.token
    if (token === undefined || token === '') throw new OAuth2Error('invalid_request', 'Request is missing token parameter.')
    await revoke(client, token, body.token_type_hint)
    // A browser client's logout: its refresh cookie goes too, whatever became of the token.
    if (client.refreshCookie) setRefreshCookie(request, reply, client, cookiePath, '', 0)
    // §2.2: 200; the RFC has the client ignore the body, but some clients (simple-oauth2) parse every
    // answer as JSON and throw on an empty one.
    return reply.code(200).type('application/json; charset=utf-8').send(EMPTY_OBJECT)
  }

  withBrowserCors(app, path, browserOrigins, (scope, url, relative) => {
    scope.post<{ Body: RevokeRequestBody }>(relative, { schema: documented(revokeRouteSchema, url, path), prefixTrailingSlash: 'slash' }, handler)
  })
}
