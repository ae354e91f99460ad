import type { FastifyRequest } from 'fastify'

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
    const q = request.url.indexOf('?')
    return {
      method: request.method,
      url: q < 0 ? request.url : `${request.url.slice(0, q)}?[redacted]`,
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
