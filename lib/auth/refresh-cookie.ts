/**
 * The refresh token of a browser client (`refreshCookie: true`) in an HttpOnly cookie, and the checks that
 * keep another site from using it.
 *
 * Scope: `Path=<the token route>` (without its trailing slash, so that both spellings of the route match),
 * not `__Host-…; Path=/`. The cookie then reaches only the one route that reads it: not the app's own
 * routes, their logs or their bugs. A `__Host-` name requires `Path=/`, so the name takes the `__Secure-`
 * prefix instead (no plain-http page can set it). Over plain http to a loopback host (development) the
 * cookie has neither Secure nor a prefix, as the session cookie. The name ends with the client id: two
 * browser clients of one server keep a cookie each.
 *
 * CSRF: a cookie client's token and revocation requests must carry an `Origin` that is one of its
 * registered origins, exactly, and a JSON body. A plain HTML form can send neither `application/json` nor
 * choose its `Origin`; a cross-origin `fetch` with JSON needs a CORS preflight, which only the registered
 * origins pass.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { OAuth2Error } from '../errors.js'
import type { ClientRecord } from '../store/store.js'
import { secureCookies, tokenCookie } from './session.js'

const BASE = 'oauth2_refresh_'

function cookieName (request: FastifyRequest, client: ClientRecord): string {
  return secureCookies(request) ? `__Secure-${BASE}${client.id}` : `${BASE}${client.id}`
}

/** The cookie's Path: the token route's full path without its trailing slash (it path-matches both). */
export function refreshCookiePath (tokenRoute: string): string {
  return tokenRoute.replace(/(.)\/$/, '$1')
}

/** The client's refresh token from its cookie, if the request carries one. */
export function readRefreshCookie (request: FastifyRequest, client: ClientRecord): string | undefined {
  return tokenCookie(request, cookieName(request, client))
}

/** Sets (or, with `value` '' and `maxAge` 0, clears) the client's refresh cookie. */
export function setRefreshCookie (request: FastifyRequest, reply: FastifyReply, client: ClientRecord, path: string, value: string, maxAge: number): void {
  const secure = secureCookies(request) ? '; Secure' : ''
  reply.header('set-cookie', `${cookieName(request, client)}=${value}; Path=${path}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure}`)
}

/**
 * Refuses a cookie client's request unless it comes from one of its origins and as JSON (see above).
 * Runs before the grant: a refused request changes nothing.
 */
export function checkBrowserRequest (request: FastifyRequest, client: ClientRecord): void {
  const origin = request.headers.origin
  if (origin === undefined || !client.origins.includes(origin)) {
    throw new OAuth2Error('invalid_request', 'This client\'s token requests must come from one of its registered origins.')
  }
  // A body-less request never gets here (the schema wants a body), so the header is there.
  if (!/^application\/json\s*(;|$)/i.test(String(request.headers['content-type']))) {
    throw new OAuth2Error('invalid_request', 'This client\'s token requests must be sent as application/json.')
  }
}
