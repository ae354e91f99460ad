import formbody from '@fastify/formbody'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OAuth2Error, sendOAuth2Error, serverFailure } from '../errors.js'

const FORM = 'application/x-www-form-urlencoded'

/** A JSON-schema string parameter of at most `maxLength` characters. */
export function bodyString (maxLength: number): { type: 'string', maxLength: number } {
  return { type: 'string', maxLength }
}

/** A string parameter of a body schema, with what it is for. */
export interface DescribedString { type: 'string', maxLength: number, description: string }

/**
 * The body's client credentials (RFC 6749 §2.3.1), last in the body schema of each route a client
 * authenticates on. The descriptions default to the token endpoint's wording.
 */
export function clientCredentialsProperties (
  clientIdDescription = 'The client, unless it authenticates with HTTP Basic.',
  clientSecretDescription = 'A confidential client\'s secret, unless sent with HTTP Basic.'
): { client_id: DescribedString, client_secret: DescribedString } {
  return {
    client_id: { ...bodyString(256), description: clientIdDescription },
    client_secret: { ...bodyString(512), description: clientSecretDescription }
  }
}

/**
 * The URLs a route answers on: its path, and the path without (or with) its trailing slash, unless the
 * app's router already treats both as one.
 */
export function routePaths (app: FastifyInstance, path: string): string[] {
  const config = app.initialConfig as { ignoreTrailingSlash?: boolean, routerOptions?: { ignoreTrailingSlash?: boolean } }
  if (path === '/' || config.ignoreTrailingSlash === true || config.routerOptions?.ignoreTrailingSlash === true) return [path]
  return [path, path.endsWith('/') ? path.slice(0, -1) : `${path}/`]
}

/** Descriptions for the framework's own 4xx errors, so nothing framework-internal is echoed. */
const FRAMEWORK_ERRORS: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Unsupported content type: send application/x-www-form-urlencoded or application/json.',
  FST_ERR_CTP_BODY_TOO_LARGE: 'The request body is too large.',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The JSON body is empty.',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'The Content-Length does not match the body.',
  FST_ERR_CTP_INVALID_JSON_BODY: 'The JSON body could not be parsed.'
}

/** Turns any error raised on the plugin's routes into an OAuth2 error body; never leaks internals. */
function errorHandler (this: FastifyInstance, error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
  if (error instanceof OAuth2Error) return sendOAuth2Error(reply, error)
  if (error.validation !== undefined) {
    const description = request.body === undefined || request.body === null
      ? 'The request has no body: send application/x-www-form-urlencoded or application/json.'
      : `Invalid parameter: ${error.message}.`
    return sendOAuth2Error(reply, new OAuth2Error('invalid_request', description))
  }
  const status = error.statusCode ?? 500
  if (status >= 400 && status < 500) {
    const description = FRAMEWORK_ERRORS[error.code] ?? 'The request could not be read.'
    return sendOAuth2Error(reply, new OAuth2Error('invalid_request', description, status))
  }
  return sendOAuth2Error(reply, serverFailure(request, error))
}

/** JSON's whitespace (RFC 8259 §2). */
const JSON_SPACE = new Set([0x20, 0x09, 0x0a, 0x0d])

/**
 * The first key an object of a valid JSON text repeats, or `null`. `JSON.parse` keeps the last of a
 * repeated key, so `{"username":"a","username":"b"}` would be read as "b" where a form parser refuses a
 * repeated parameter: the plugin refuses both. Keys are compared unescaped (`"a"` and `"\u0061"` repeat).
 */
export function repeatedJsonKey (text: string): string | null {
  // One set of keys per open object, `null` per open array.
  const open: Array<Set<string> | null> = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x7b) open.push(new Set())
    else if (c === 0x5b) open.push(null)
    else if (c === 0x7d || c === 0x5d) open.pop()
    else if (c === 0x22) {
      let end = i + 1
      while (text.charCodeAt(end) !== 0x22) end += text.charCodeAt(end) === 0x5c ? 2 : 1
      const keys = open.at(-1)
      let next = end + 1
      while (JSON_SPACE.has(text.charCodeAt(next))) next++
      if (keys != null && text.charCodeAt(next) === 0x3a) {
        const key = JSON.parse(text.slice(i, end + 1)) as string
        if (keys.has(key)) return key
        keys.add(key)
      }
      i = end
    }
  }
  return null
}

/**
 * The JSON parser of the plugin's routes: Fastify's own (prototype poisoning refused), then a repeated
 * key refused as a repeated form parameter is.
 */
function jsonWithoutRepeatedKeys (scope: FastifyInstance): void {
  const parse = scope.getDefaultJsonParser('error', 'error')
  scope.removeContentTypeParser('application/json')
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parse(request, body as string, (err, value) => {
      if (err !== null) return done(err)
      const key = repeatedJsonKey(body as string)
      if (key === null) return done(null, value)
      done(new OAuth2Error('invalid_request', `The ${JSON.stringify(key.slice(0, 64))} parameter may be given only once.`), undefined)
    })
  })
}

/** RFC 6749 §3.2 wants the parameters in the body: a query string on these routes is refused. */
async function refuseQueryString (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const q = request.url.indexOf('?')
  if (q < 0 || q === request.url.length - 1) return undefined
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
  return sendOAuth2Error(reply, new OAuth2Error('invalid_request', 'Parameters are not allowed in the query string.'))
}

/** The parameters a route's body schema declares (every one of them a string). */
function declaredParameters (request: FastifyRequest): string[] {
  const schema = request.routeOptions.schema?.body as { properties?: Record<string, unknown> } | undefined
  return Object.keys(Object(schema?.properties) as Record<string, unknown>)
}

/**
 * Every OAuth2 parameter is one string. Fastify's default Ajv coerces the rest: a number becomes its
 * string (as Django REST Framework's CharField does) and null becomes "" (a parameter without a value,
 * RFC 6749 §3.1), but `true` would become "true" and `["x"]` would become "x". Refuse booleans, objects
 * and arrays (a repeated form parameter, RFC 6749 §3.1) before validation. Unknown parameters are ignored.
 */
async function refuseNonStringParameters (request: FastifyRequest): Promise<void> {
  const body = request.body
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return
  for (const name of declaredParameters(request)) {
    const value: unknown = Object.hasOwn(body, name) ? (body as Record<string, unknown>)[name] : undefined
    if (value === undefined || value === null || typeof value === 'string' || typeof value === 'number') continue
    throw new OAuth2Error('invalid_request', Array.isArray(value)
      ? `The ${name} parameter may be given only once, as a string.`
      : `Invalid parameter: ${name} must be a string.`)
  }
}

/**
 * Prepares the encapsulated context the plugin's routes live in: form bodies (unless the app already
 * parses them), the OAuth2 error rendering, the body limit, the query-string refusal and the string-only
 * parameters. Nothing here leaks to the app's own routes.
 */
export async function prepareContext (scope: FastifyInstance, bodyLimit: number): Promise<void> {
  if (!scope.hasContentTypeParser(FORM)) await scope.register(formbody, { bodyLimit })
  // Only forms and JSON carry OAuth2 parameters; anything else is 415 here (not in the app's own routes).
  if (scope.hasContentTypeParser('text/plain')) scope.removeContentTypeParser('text/plain')
  jsonWithoutRepeatedKeys(scope)
  scope.setErrorHandler(errorHandler)
  scope.addHook('onRoute', (route) => {
    route.bodyLimit ??= bodyLimit
  })
  scope.addHook('onRequest', refuseQueryString)
  scope.addHook('preValidation', refuseNonStringParameters)
}
