import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import { refreshCookiePath } from '../auth/refresh-cookie.js'
import type { OAuth2Store } from '../store/store.js'
import { routePaths } from './common.js'

/** How long the set of browser clients' origins is reused before the store is asked again. */
const ORIGINS_TTL_MS = 5_000

/** Whether an `Origin` is one of a browser client's (`refreshCookie`) registered origins. */
export type OriginCheck = (origin: string) => Promise<boolean>

/**
 * The origins of every cookie client in the store, read at most every ORIGINS_TTL_MS (a preflight needs an
 * answer before any client_id is known, so the check is against all of them). A client added or deleted
 * meanwhile reaches CORS within that time; the token route's own check reads the client record on every
 * request, so a stale entry here never lets a request through that the client's origins refuse.
 */
export function browserOrigins (store: OAuth2Store): OriginCheck {
  let origins = new Set<string>()
  let expiresAt = 0
  return async (origin) => {
    if (Date.now() >= expiresAt) {
      const clients = await store.listClients()
      origins = new Set(clients.filter((c) => c.refreshCookie).flatMap((c) => c.origins))
      expiresAt = Date.now() + ORIGINS_TTL_MS
    }
    return origins.has(origin)
  }
}

/**
 * Registers a route's URLs (`path` and its trailing-slash twin) in a context of their own with
 * @fastify/cors allowing credentials for browser clients' origins only, nothing for any other. The context's
 * prefix is the route's path, so the preflight route @fastify/cors adds (`OPTIONS <prefix>*`) covers this
 * route alone and never clashes with an app's own `OPTIONS *` from its own @fastify/cors.
 */
export function withBrowserCors (
  app: FastifyInstance,
  path: string,
  allowed: OriginCheck,
  add: (scope: FastifyInstance, url: string, relative: string) => void
): void {
  // The route's path without its trailing slash; '' for a route at '/'.
  const prefix = refreshCookiePath(path).replace(/^\/$/, '')
  const urls = routePaths(app, path)
  void app.register(async (scope) => {
    // An app-wide @fastify/cors already answers on every route (and a second one cannot register): the
    // app's own configuration governs here then; see README, "Browser clients".
    if (!scope.hasRequestDecorator('corsPreflightEnabled')) await scope.register(cors, {
      // No Origin (not a CORS request): no CORS headers.
      origin: async (origin: string | undefined) => origin !== undefined && await allowed(origin),
      credentials: true,
      methods: ['POST'],
      allowedHeaders: ['content-type', 'authorization'],
      maxAge: 600
    })
    for (const url of urls) add(scope, url, url.slice(prefix.length))
  }, { prefix })
}
