/**
 * Public types and the `fastify` module augmentation. Apps widen `OAuth2User` by declaration merging:
 *
 * ```ts
 * declare module 'fastify-oauth2-server' {
 *   interface OAuth2User { email: string }
 * }
 * ```
 */
import type { onRequestAsyncHookHandler } from 'fastify'

/** The authenticated user as routes see it on `request.user` and `request.oauth.user`. */
export interface OAuth2User {
  id: string
  username: string
}

/** What a guarded request knows about its caller. */
export interface OAuth2RequestContext {
  /** The user the token was issued to; `null` for client-credentials tokens. */
  user: OAuth2User | null
  /** The client the token was issued to. */
  clientId: string
  /** The token's scopes. */
  scopes: string[]
  /** When the access token expires. */
  expiresAt: Date
}

/** Options of a guard made by `app.oauth2.authenticate()`. */
export interface GuardOptions {
  /** Scopes the token must all carry; a token without one gets 403 `insufficient_scope`. Default none. */
  scopes?: string[]
  /** Let requests without an `Authorization` header through (with `request.oauth` null). Default `false`. */
  optional?: boolean
}

/** What the plugin adds to the Fastify instance as `app.oauth2`. */
export interface OAuth2ServerApi {
  /**
   * A hook that authenticates the bearer token of a request (RFC 6750), for a route's `onRequest` (or
   * `preHandler`), or `app.addHook('onRequest', …)` for a whole encapsulated context.
   */
  authenticate: (options?: GuardOptions) => onRequestAsyncHookHandler
  /** Revokes every token of one user ("log out everywhere"), e.g. after a password change. */
  revokeUserTokens: (userId: string) => Promise<number>
}

declare module 'fastify' {
  interface FastifyInstance {
    oauth2: OAuth2ServerApi
  }
  interface FastifyRequest {
    /** The caller, once a guard has authenticated the request; `null` before that or without a token. */
    oauth: OAuth2RequestContext | null
    /** The authenticated user (under the configured decorator name, `user` by default). */
    user: OAuth2User | null
  }
}
