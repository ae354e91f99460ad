import type { FastifyReply, FastifyRequest } from 'fastify'

/** A URL without its query string, which may carry a secret a client put there by mistake. */
function withoutQuery (url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : `${url.slice(0, q)}?[redacted]`
}

/** What the request serializer keeps of a request: never its headers, body or query string. */
export type SerializedRequest = {
  method: string
  url: string
  host: string
  remoteAddress: string
}

/**
 * Logger serializers that keep secrets out of request logs: `Fastify({ logger: { serializers:
 * logSerializers } })`. Fastify's default request serializer logs the full URL, and a client that
 * wrongly puts `password=…` or `access_token=…` in a query string would have it written to the log
 * (the plugin refuses such requests, but after Fastify has logged them). This one replaces the query
 * string with `?[redacted]` and logs no headers (so no `Authorization`).
 */
export const logSerializers = Object.freeze({
  req (request: FastifyRequest): SerializedRequest {
    return {
      method: request.method,
      url: withoutQuery(request.url),
      host: request.host,
      remoteAddress: request.ip
    }
  }
})

/**
 * Pino `redact` paths for apps whose own serializers log headers or bodies:
 * `Fastify({ logger: { redact: logRedactPaths } })`.
 */
export const logRedactPaths: readonly string[] = Object.freeze([
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body.password',
  'req.body.client_secret',
  'req.body.refresh_token',
  'req.body.token',
  'req.body.access_token'
])

/**
 * A not-found handler that never repeats a query string: `app.setNotFoundHandler(notFoundHandler)`.
 * Fastify's own logs `Route GET:/o/token/?password=… not found` and sends that line back in the body, so a
 * client that sends its password in a GET's query string (to a POST-only route) would have it written to
 * the log and echoed. This one answers the same 404 shape with the query string redacted, in the log too.
 */
export async function notFoundHandler (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const message = `Route ${request.method}:${withoutQuery(request.url)} not found`
  request.log.info(message)
  return await reply.code(404).send({ message, error: 'Not Found', statusCode: 404 })
}
