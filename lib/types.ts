/**
 * Public types and the `fastify` module augmentation. An app tells TypeScript about its users once, by
 * declaration merging (as with @fastify/jwt's `FastifyJWT`):
 *
 * ```ts
 * declare module 'fastify-oauth2-server' {
 *   interface OAuth2ServerTypes {
 *     user: { id: string, username: string, email: string } // request.user and request.oauth.user
 *     decorator: 'account' // the `decorator` option: the user is then typed on request.account
 *   }
 * }
 * ```
 */
import type { FastifyError, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import type { AppUser } from './auth/user-source.js'

/**
 * What the app declares about its types, by declaration merging; every key is optional:
 * - `user`: the shape of `request.user` and `request.oauth.user`. It must have `id` and `username`
 *   (strings). Default `{ id, username }`, what the plugin's store gives. A shape with more required fields
 *   than that is only produced by the app's own `users` source, so the `users` option becomes required.
 * - `decorator`: the request property holding the user, the same name as the `decorator` option (which
 *   then becomes required). Default `'user'`. Declare another name when another plugin (@fastify/jwt)
 *   types `request.user` too.
 */
export interface OAuth2ServerTypes {}

/** The authenticated user as routes see it on `request.user` and `request.oauth.user`. */
export type OAuth2User = OAuth2ServerTypes extends { user: infer User extends AppUser } ? User : AppUser

/** The name of the request property holding the user: the declared `decorator`, else `'user'`. */
export type OAuth2UserDecorator = OAuth2ServerTypes extends { decorator: infer Name extends string } ? Name : 'user'

/** The request property holding the user, under its declared name. */
export type OAuth2UserProperty = { [Name in OAuth2UserDecorator]: OAuth2User | null }

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

/**
 * A bearer check that fails by throwing (an `OAuth2Error` with the RFC 6750 status and `WWW-Authenticate`
 * header), for @fastify/auth: `app.auth([app.oauth2.verifyBearer(), apiKeyCheck])`.
 */
export type BearerStrategy = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

/** What the plugin adds to the Fastify instance as `app.oauth2`. */
export interface OAuth2ServerApi {
  /**
   * A hook that authenticates the bearer token of a request (RFC 6750), for a route's `onRequest` (or
   * `preHandler`), or `app.addHook('onRequest', …)` for a whole encapsulated context. It answers 401/403
   * itself.
   */
  authenticate: (options?: GuardOptions) => onRequestAsyncHookHandler
  /**
   * The same check as `authenticate()`, as a strategy for @fastify/auth: it decorates the request and
   * resolves, or rejects with an `OAuth2Error` (status 401 or 403, `WWW-Authenticate` in `headers`) so
   * that the next strategy can run. When every strategy fails, @fastify/auth hands the last error to the
   * route's error handler: use `errorHandler` below to answer it with the `{ error, error_description }` body.
   */
  verifyBearer: (options?: GuardOptions) => BearerStrategy
  /**
   * An error handler (for a route's `errorHandler` option, or `setErrorHandler` on a context) that answers
   * an `OAuth2Error` with its status, headers and `{ error, error_description }` body, and passes any
   * other error on to the parent error handler.
   */
  errorHandler: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => FastifyReply
  /** Revokes every token of one user ("log out everywhere"), e.g. after a password change. */
  revokeUserTokens: (userId: string) => Promise<number>
}

declare module 'fastify' {
  interface FastifyInstance {
    oauth2: OAuth2ServerApi
  }
  // The user property is named by `OAuth2ServerTypes['decorator']` (default `user`), so that an app using
  // @fastify/jwt's `request.user` too can move ours (`decorator: 'account'`) without a type clash.
  interface FastifyRequest extends OAuth2UserProperty {
    /** The caller, once a guard has authenticated the request; `null` before that or without a token. */
    oauth: OAuth2RequestContext | null
  }
}
