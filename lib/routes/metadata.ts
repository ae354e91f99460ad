import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OAuth2Error } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import type { GrantType } from '../store/store.js'
import { prepareContext } from './common.js'
import { oauth2ErrorBody, OPENAPI_TAG } from './openapi.js'

/** RFC 8414 §2: the authorization server's metadata, as far as this server has any. */
export interface AuthorizationServerMetadata {
  issuer: string
  token_endpoint: string
  authorization_endpoint?: string
  revocation_endpoint?: string
  introspection_endpoint?: string
  grant_types_supported: GrantType[]
  token_endpoint_auth_methods_supported: string[]
  revocation_endpoint_auth_methods_supported?: string[]
  introspection_endpoint_auth_methods_supported?: string[]
  scopes_supported: string[]
  /** `["code"]`, or empty when the authorization endpoint is off. */
  response_types_supported: string[]
  /** `["S256"]`: PKCE is required, `plain` refused. */
  code_challenge_methods_supported?: string[]
}

const GRANT_TYPES: GrantType[] = ['password', 'refresh_token', 'client_credentials']
/** Public clients identify themselves by `client_id` alone (`none`). */
const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none']
/** Introspection is for confidential clients only. */
const CONFIDENTIAL_AUTH_METHODS = ['client_secret_basic', 'client_secret_post']
/** A host (name, IPv4 or bracketed IPv6) and an optional port: nothing else is echoed into the issuer. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/

const stringList = { type: 'array', items: { type: 'string' } }

/** The schema of the metadata route, for @fastify/swagger (the handler sends the document already serialized). */
export const metadataRouteSchema = {
  summary: 'Authorization server metadata (RFC 8414)',
  tags: [OPENAPI_TAG],
  response: {
    200: {
      description: 'The endpoints, grants, client authentication methods and scopes of this server.',
      type: 'object',
      required: ['issuer', 'token_endpoint', 'grant_types_supported', 'token_endpoint_auth_methods_supported',
        'scopes_supported', 'response_types_supported'],
      properties: {
        issuer: { type: 'string' },
        token_endpoint: { type: 'string' },
        authorization_endpoint: { type: 'string' },
        revocation_endpoint: { type: 'string' },
        introspection_endpoint: { type: 'string' },
        grant_types_supported: stringList,
        token_endpoint_auth_methods_supported: stringList,
        revocation_endpoint_auth_methods_supported: stringList,
        introspection_endpoint_auth_methods_supported: stringList,
        scopes_supported: stringList,
        response_types_supported: { ...stringList, description: '`["code"]`; empty when the authorization endpoint is off.' },
        code_challenge_methods_supported: { ...stringList, description: '`["S256"]`: PKCE is required.' }
      },
      additionalProperties: true,
      headers: {
        'cache-control': { type: 'string', description: '`public, max-age=3600` with the `issuer` option, else `no-store`.' }
      }
    },
    400: { description: 'Without the `issuer` option: the Host header is missing or malformed.', ...oauth2ErrorBody }
  }
}

/** `prefix` + `path`, without the double slash a prefix ending in `/` would give (as Fastify joins them). */
function joinPath (prefix: string, path: string): string {
  return prefix.endsWith('/') ? prefix + path.slice(1) : prefix + path
}

/** A path without its trailing slash: `''` for `/` and for no path at all. */
function trimSlash (path: string): string {
  return path.endsWith('/') ? path.slice(0, -1) : path
}

/**
 * The path of the issuer: that of the `issuer` option, else the prefix the routes are served under (the
 * issuer is then this request's origin followed by it).
 */
function issuerPath (options: ResolvedOptions, routesPrefix: string): string {
  return trimSlash(options.issuer === null ? routesPrefix : new URL(options.issuer).pathname)
}

/**
 * RFC 8414 §3.1: where a client looks for the document of the issuer, on its origin: the metadata path,
 * then the issuer's path (`/.well-known/oauth-authorization-server/auth` for `https://example.com/auth`).
 */
export function metadataLocation (options: ResolvedOptions, path: string, routesPrefix: string): string {
  const issuer = issuerPath(options, routesPrefix)
  return issuer === '' ? path : trimSlash(path) + issuer
}

/**
 * `GET /.well-known/oauth-authorization-server` (RFC 8414 §3), served at `path` of `app`: the metadata built
 * from the plugin's options. Endpoint URLs are the `issuer` option (else this request's origin) followed by
 * each route's full path (with `routesPrefix`, the prefix the routes are served under); routes turned off
 * are left out, and sign-up (not an OAuth2 endpoint) is not listed. Without the `issuer` option the issuer
 * is this request's origin followed by `routesPrefix`, so the answer is not cached.
 */
export function metadataRoute (app: FastifyInstance, options: ResolvedOptions, path: string, routesPrefix = app.prefix): void {
  const { routes } = options

  /** `base`: what the endpoints' paths follow. */
  function build (issuer: string, base: string): AuthorizationServerMetadata {
    const url = (route: string): string => base + joinPath(routesPrefix, route)
    const metadata: AuthorizationServerMetadata = {
      issuer,
      token_endpoint: url(routes.token),
      grant_types_supported: [...GRANT_TYPES],
      token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
      scopes_supported: [...options.scopes],
      response_types_supported: []
    }
    if (routes.authorize !== false) {
      metadata.authorization_endpoint = url(routes.authorize)
      metadata.grant_types_supported.push('authorization_code')
      metadata.response_types_supported = ['code']
      metadata.code_challenge_methods_supported = ['S256']
    }
    if (routes.revoke !== false) {
      metadata.revocation_endpoint = url(routes.revoke)
      metadata.revocation_endpoint_auth_methods_supported = [...CLIENT_AUTH_METHODS]
    }
    if (routes.introspect !== false) {
      metadata.introspection_endpoint = url(routes.introspect)
      metadata.introspection_endpoint_auth_methods_supported = [...CONFIDENTIAL_AUTH_METHODS]
    }
    return metadata
  }

  // With a configured issuer the document never changes: build it once.
  const fixed = options.issuer === null ? null : JSON.stringify(build(options.issuer, trimSlash(options.issuer)))
  const prefixPath = issuerPath(options, routesPrefix)

  async function handler (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    reply.type('application/json; charset=utf-8')
    if (fixed !== null) return reply.header('cache-control', 'public, max-age=3600').send(fixed)
    // Derived from the request's Host (or X-Forwarded-* under trustProxy): never let a cache keep it for others.
    reply.header('cache-control', 'no-store')
    const host = request.host // '' when an HTTP/1.0 request has no Host header
    if (!HOST.test(host)) {
      throw new OAuth2Error('invalid_request', 'The Host header is missing or malformed.')
    }
    const origin = `${request.protocol}://${host}`
    return reply.send(JSON.stringify(build(origin + prefixPath, origin)))
  }

  app.get(path, { schema: metadataRouteSchema }, handler)
}

/**
 * RFC 8414 §3.1: serves the document also at its location for the issuer ({@link metadataLocation}), from
 * `app`, the context the plugin was registered in, when that differs from where the routes serve it. A
 * context with a prefix of its own cannot add a route at the origin's root: there the app serves it.
 */
export async function issuerMetadataRoute (app: FastifyInstance, options: ResolvedOptions, path: string, routesPrefix: string): Promise<void> {
  const location = metadataLocation(options, path, routesPrefix)
  if (app.prefix !== '' || location === joinPath(routesPrefix, path)) return
  await app.register(async (scope) => {
    await prepareContext(scope, options.bodyLimit)
    metadataRoute(scope, options, location, routesPrefix)
  })
}
