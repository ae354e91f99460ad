/**
 * The response side of the routes' schemas: what each route answers, for each status, so that
 * @fastify/swagger documents it (and Fastify serializes exactly these fields). Descriptions, tags and media
 * types are annotations only: they change no validation.
 */

/** The OpenAPI tag of every route of the plugin. */
export const OPENAPI_TAG = 'OAuth2'

/** Both bodies the routes parse: the form encoding RFC 6749 prescribes, and JSON. */
export const CONSUMES = ['application/x-www-form-urlencoded', 'application/json']

/** The headers of every error of the POST routes, and of the token and introspection answers. */
export const NO_STORE_HEADERS = {
  'cache-control': { type: 'string', description: 'Always `no-store`: tokens and errors are never cached.' },
  pragma: { type: 'string', description: 'Always `no-cache`.' }
}

/** The OAuth2 error body (RFC 6749 §5.2): every error of every route has this shape. */
export const oauth2ErrorBody = {
  type: 'object',
  required: ['error', 'error_description'],
  properties: {
    error: {
      type: 'string',
      description: 'The error code: an RFC 6749 §5.2 code (invalid_request, invalid_client, invalid_grant, ' +
        'unauthorized_client, unsupported_grant_type, invalid_scope) or slow_down, temporarily_unavailable.'
    },
    error_description: { type: 'string', description: 'What went wrong, for the developer; never a secret.' }
  }
} as const

type ErrorStatus = 400 | 401 | 413 | 415 | 429 | 503

/** What each error status of the POST routes means. */
const ERROR_DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: 'A missing, repeated or malformed parameter, a query string, or a refused request (see `error`).',
  401: 'Client authentication failed (`invalid_client`), with `WWW-Authenticate: Basic`.',
  413: 'The body is larger than the `bodyLimit` option (`invalid_request`).',
  415: 'The body is neither application/x-www-form-urlencoded nor application/json (`invalid_request`).',
  429: 'Too many failed attempts from this address (`slow_down`): retry after `Retry-After` seconds.',
  503: 'Password hashing is saturated or the store failed (`temporarily_unavailable`): retry after `Retry-After` seconds.'
}

const ERROR_HEADERS: Partial<Record<ErrorStatus, Record<string, { type: string, description: string }>>> = {
  401: { 'www-authenticate': { type: 'string', description: 'The HTTP Basic challenge, `Basic realm="…"`.' } },
  429: { 'retry-after': { type: 'string', description: 'Seconds to wait.' } },
  503: { 'retry-after': { type: 'string', description: 'Seconds to wait.' } }
}

/**
 * The response schemas of a POST route: its success answers as given, and the OAuth2 error body for each
 * error status, with the headers it carries.
 */
export function responses (success: Record<number, object>, errors: readonly ErrorStatus[]): Record<number, object> {
  const all: Record<number, object> = { ...success }
  for (const status of errors) {
    all[status] = { description: ERROR_DESCRIPTIONS[status], ...oauth2ErrorBody, headers: { ...NO_STORE_HEADERS, ...ERROR_HEADERS[status] } }
  }
  return all
}

/**
 * The route options of one URL of a route: each route answers on its path and on the path without (or
 * with) its trailing slash; only the first is documented.
 */
export function documented<S extends object> (schema: S, url: string, canonical: string): S | (S & { hide: true }) {
  return url === canonical ? schema : { ...schema, hide: true }
}
