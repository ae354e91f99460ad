import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { OAuth2Error, sendOAuth2Error } from '../errors.js'

/**
 * `app.oauth2.errorHandler`: answers an `OAuth2Error` (e.g. the one `verifyBearer()` fails with under
 * @fastify/auth) with its status, headers and `{ error, error_description }` body. Any other error is
 * thrown on, so the parent context's error handler (or Fastify's default) answers it as before.
 */
export function oauth2ErrorHandler (error: FastifyError, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof OAuth2Error) return sendOAuth2Error(reply, error)
  throw error
}
