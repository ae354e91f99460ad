import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { authenticateClient, type ClientParameters } from '../auth/client-auth.js'
import { accessTokenState, orphaned } from '../auth/liveness.js'
import { tokenUserResolver } from '../auth/user-directory.js'
import { hashToken } from '../crypto/tokens.js'
import { OAuth2Error } from '../errors.js'
import type { AccessTokenRecord } from '../store/store.js'
import type { RouteContext } from './context.js'
import { bodyString, clientCredentialsProperties, routePaths } from './common.js'
import { CONSUMES, documented, NO_STORE_HEADERS, OPENAPI_TAG, responses } from './openapi.js'

/** The introspection endpoint's parameters (RFC 7662 §2.1, client authentication per RFC 6749 §2.3.1). */
export interface IntrospectRequestBody extends ClientParameters {
  token?: string
  token_type_hint?: string
}

/** RFC 7662 §2.2: an active access token's metadata, or only `active: false`. */
export type IntrospectionResponse =
  | { active: false }
  | {
    active: true
    scope: string
    client_id: string
    /** Absent for client-credentials tokens (no user). */
    username?: string
    /** Unix seconds. */
    exp: number
    /** Unix seconds. */
    iat: number
    token_type: 'Bearer'
  }

export const introspectBodySchema = {
  type: 'object',
  properties: {
    token: { ...bodyString(512), description: 'The access token to describe.' },
    token_type_hint: { ...bodyString(64), description: 'Accepted and ignored: only access tokens are described.' },
    ...clientCredentialsProperties('The confidential client, unless it authenticates with HTTP Basic.', 'Its secret, unless sent with HTTP Basic.')
  }
} as const

/** The whole schema of the introspection route, for validation and for @fastify/swagger. */
export const introspectRouteSchema = {
  summary: 'Token introspection (RFC 7662)',
  description: 'For confidential clients: the metadata of a live access token, or `{ "active": false }`.',
  tags: [OPENAPI_TAG],
  consumes: CONSUMES,
  body: introspectBodySchema,
  response: responses({
    200: {
      description: 'The token\'s metadata (RFC 7662 §2.2); only `active: false` for anything but a live access token.',
      type: 'object',
      required: ['active'],
      properties: {
        active: { type: 'boolean' },
        scope: { type: 'string', description: 'Space-separated scopes.' },
        client_id: { type: 'string' },
        username: { type: 'string', description: 'Absent for client-credentials tokens.' },
        exp: { type: 'integer', description: 'Expiry, in seconds since the epoch.' },
        iat: { type: 'integer', description: 'Issue time, in seconds since the epoch.' },
        token_type: { type: 'string', enum: ['Bearer'] }
      },
      // Whatever else a later version adds is sent, not silently dropped by the serializer.
      additionalProperties: true,
      headers: NO_STORE_HEADERS
    }
  }, [400, 401, 413, 415, 503])
}

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' }
const INACTIVE: IntrospectionResponse = Object.freeze({ active: false })

/**
 * `POST /o/introspect/` (RFC 7662) for the app's confidential clients (its resource servers): a live
 * access token's metadata, `{ "active": false }` for anything else. Only access tokens are described;
 * `token_type_hint` is accepted and ignored (§2.1 allows it).
 */
export function introspectRoute (app: FastifyInstance, ctx: RouteContext, path: string): void {
  const { options, store } = ctx
  // The user as the guard sees it: from the store, or from the app's own `users` source.
  const resolveUser = tokenUserResolver(options)

  /** The access token's record and user if it would pass the bearer guard now (scopes aside), else null. */
  async function live (token: string): Promise<{ record: AccessTokenRecord, username: string | null } | null> {
    const found = await store.findByAccessTokenHash(hashToken(token))
    if (found === null) return null
    const record = found.token
    const now = options.now()
    if (accessTokenState(record, now) !== 'live') return null
    const user = await resolveUser(found)
    if (orphaned(record, user)) return null
    return { record, username: user === null ? null : user.username }
  }

  async function handler (request: FastifyRequest<{ Body: IntrospectRequestBody }>, reply: FastifyReply): Promise<IntrospectionResponse> {
    reply.headers(NO_STORE)
    const body = request.body
    const client = await authenticateClient(store, request, body, options.realm)
    // §2.1: the caller must be authorized; only confidential clients prove who they are.
    if (client.type !== 'confidential') {
      throw new OAuth2Error('invalid_client', 'Client authentication failed.', 401, { 'www-authenticate': `Basic realm="${options.realm}"` })
    }
    if (body.token === undefined || body.token === '') return INACTIVE
    const found = await live(body.token)
    if (found === null) return INACTIVE
    const { record, username } = found
    return {
      active: true,
      scope: record.scopes.join(' '),
      client_id: record.clientId,
      ...(username === null ? {} : { username }),
      exp: Math.floor(record.accessExpiresAt / 1000),
      iat: Math.floor(record.createdAt / 1000),
      token_type: 'Bearer'
    }
  }

  for (const url of routePaths(app, path)) {
    app.post<{ Body: IntrospectRequestBody }>(url, { schema: documented(introspectRouteSchema, url, path) }, handler)
  }
}
