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
 * A failure of the store (database down, timeout) or of the app's user source: logged with its error, answered
 * 503 `temporarily_unavailable` with `Retry-After`, with no internal detail. Nothing half-done is left: each
 * store operation is atomic, and the request changed nothing else.
 */
export function unavailable (request: FastifyRequest, err: unknown): OAuth2Error {
  request.log.error({ err }, 'fastify-oauth2-server: the store failed; answering 503')
  return new OAuth2Error('temporarily_unavailable', 'The server cannot handle the request now: retry later.', 503, {
    'retry-after': '1'
  })
}
