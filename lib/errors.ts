/**
 * Two kinds of error live here:
 * - `OAuth2ConfigError`: a programmer error, thrown at registration, with a stable `FST_OAUTH2_*` code and a
 *   message naming the bad option.
 * - `OAuth2Error`: a protocol error, a value carrying the RFC 6749 / RFC 6750 error code, the HTTP status
 *   and headers, rendered as `{ error, error_description }` in one place (`sendOAuth2Error`).
 */
import type { FastifyReply, FastifyRequest } from 'fastify'

/** Stable codes of the errors thrown at registration. */
export const ConfigErrorCode = {
  INVALID_OPTION: 'FST_OAUTH2_INVALID_OPTION',
  DECORATOR_TAKEN: 'FST_OAUTH2_DECORATOR_TAKEN'
} as const

/** Thrown when the plugin is registered with a bad option; the message names the option. */
export class OAuth2ConfigError extends Error {
  readonly code: string

  constructor (code: string, message: string) {
    super(message)
    this.name = 'OAuth2ConfigError'
    this.code = code
  }
}

/** Error codes of RFC 6749 §5.2, RFC 6750 §3.1 and RFC 7009 §2.2.1, plus this library's own. */
export type OAuth2ErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'unsupported_token_type'
  | 'unauthorized'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'slow_down'
  | 'temporarily_unavailable'
  | 'server_error'

/** A protocol error: rendered as JSON `{ error, error_description }` with its status and headers. */
export class OAuth2Error extends Error {
  readonly error: OAuth2ErrorCode
  readonly statusCode: number
  readonly headers: Readonly<Record<string, string>>

  constructor (error: OAuth2ErrorCode, description: string, statusCode = 400, headers: Record<string, string> = {}) {
    super(description)
    this.name = 'OAuth2Error'
    this.error = error
    this.statusCode = statusCode
    this.headers = headers
  }
}

/** Sends an `OAuth2Error` as the reply. */
export function sendOAuth2Error (reply: FastifyReply, err: OAuth2Error): FastifyReply {
  return reply
    .code(err.statusCode)
    .headers(err.headers)
    .type('application/json; charset=utf-8')
    .send({ error: err.error, error_description: err.message })
}

/** The same answer for a wrong password and an unknown user (RFC 6749 §5.2 `invalid_grant`). */
export function invalidCredentials (): OAuth2Error {
  return new OAuth2Error('invalid_grant', 'Invalid credentials given.')
}

/**
 * A failure of the store (database down, timeout) or of the app's user source, as opposed to a bug. The
 * plugin's routes see the store and the user source through `reportingFailures`, which wraps their
 * failures in this; the original error is its `cause`.
 */
export class StoreFailure extends Error {
  constructor (cause: unknown) {
    super('the store failed', { cause })
    this.name = 'StoreFailure'
  }
}

/**
 * Whether an error is a programmer's mistake (ours, or the app's in its user source or password policy)
 * rather than an outage: JavaScript's own errors for code that misuses a value.
 */
export function isProgrammerError (err: unknown): boolean {
  return err instanceof TypeError || err instanceof ReferenceError || err instanceof SyntaxError || err instanceof RangeError
}

/**
 * The answer to an error that is not a protocol error, logged with its stack and answered without any
 * detail: a `StoreFailure` is an outage, 503 `temporarily_unavailable` with `Retry-After` (nothing
 * half-done is left: each store operation is atomic, and the request changed nothing else); anything else
 * is a bug, 500 `server_error`, so that it is not mistaken for an outage and retried.
 */
export function serverFailure (request: FastifyRequest, err: unknown): OAuth2Error {
  if (err instanceof StoreFailure) {
    request.log.error({ err: err.cause }, 'fastify-oauth2-server: the store failed; answering 503')
    return new OAuth2Error('temporarily_unavailable', 'The server cannot handle the request now: retry later.', 503, {
      'retry-after': '1'
    })
  }
  request.log.error({ err }, 'fastify-oauth2-server: unexpected error; answering 500')
  return new OAuth2Error('server_error', 'The server encountered an unexpected error.', 500)
}

/** A store's (or user source's) error as `serverFailure` should see it: an outage unless it is a bug. */
export function asStoreFailure (err: unknown): unknown {
  return err instanceof StoreFailure || err instanceof OAuth2Error || isProgrammerError(err) ? err : new StoreFailure(err)
}

/**
 * `target` (a store or the app's user source) with every method's failure passed through
 * `asStoreFailure`, so that the routes' error handler can tell an outage from a bug. Methods run on
 * `target` itself (private fields work); anything that is not a function is returned as it is.
 */
export function reportingFailures<T extends object> (target: T): T {
  // By the method itself, so that a method replaced on the target later is wrapped anew.
  const wrapped = new WeakMap<(...args: unknown[]) => unknown, unknown>()
  return new Proxy(target, {
    get (object, property) {
      const value: unknown = Reflect.get(object, property, object)
      if (typeof value !== 'function') return value
      let method = wrapped.get(value as (...args: unknown[]) => unknown)
      if (method === undefined) {
        method = function (...args: unknown[]): unknown {
          let result: unknown
          try {
            result = value.apply(object, args)
          } catch (err) {
            throw asStoreFailure(err)
          }
          return result instanceof Promise ? result.catch((err: unknown) => { throw asStoreFailure(err) }) : result
        }
        wrapped.set(value as (...args: unknown[]) => unknown, method)
      }
      return method
    }
  })
}
