/**
 * The user's session at the authorization server, and the CSRF token of its forms, both in cookies.
 *
 * Cookies are read and written here rather than with @fastify/cookie: the plugin needs two cookies whose
 * values are its own random tokens (nothing to sign, decode or escape), and a dependency of its own would
 * register a parser on the app or clash with the app's registration of it.
 *
 * A cookie is `HttpOnly; SameSite=Lax; Path=/`, and `Secure` with the `__Host-` prefix (no subdomain can
 * set or shadow it) except on plain http to a loopback host, where a browser would drop a Secure cookie.
 * The session id is 256 random bits; the store keeps only its SHA-256.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { generateToken, hashToken, secretMatches } from '../crypto/tokens.js'
import type { RouteContext } from '../routes/context.js'

const SESSION_COOKIE = 'oauth2_session'
const CSRF_COOKIE = 'oauth2_csrf'
/** The name of the forms' hidden CSRF input. */
export const CSRF_FIELD = 'csrf_token'
/** What `generateToken` makes: anything else in a cookie is ignored. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1'])

/** Whether the request came over plain http to a loopback host: the only case of cookies without Secure. */
export function secureCookies (request: FastifyRequest): boolean {
  return !(request.protocol === 'http' && LOOPBACK_HOSTS.has(request.hostname))
}

function cookieName (request: FastifyRequest, base: string): string {
  return secureCookies(request) ? `__Host-${base}` : base
}

/** The value of the first cookie named `base` (with its prefix), if it is one of our tokens. */
function readCookie (request: FastifyRequest, base: string): string | undefined {
  return tokenCookie(request, cookieName(request, base))
}

/** The value of the first cookie named exactly `name`, if it is one of our tokens (`generateToken`'s form). */
export function tokenCookie (request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie
  if (header === undefined) return undefined
  const prefix = `${name}=`
  for (const part of header.split(';')) {
    const pair = part.trim()
    if (pair.startsWith(prefix)) {
      const value = pair.slice(prefix.length)
      return TOKEN.test(value) ? value : undefined
    }
  }
  return undefined
}

function setCookie (request: FastifyRequest, reply: FastifyReply, base: string, value: string, maxAge?: number): void {
  const secure = secureCookies(request) ? '; Secure' : ''
  const age = maxAge === undefined ? '' : `; Max-Age=${maxAge}`
  reply.header('set-cookie', `${cookieName(request, base)}=${value}; Path=/; HttpOnly; SameSite=Lax${secure}${age}`)
}

/** A logged-in user's session: who, and the hash of its id (how the store keeps it). */
export interface ActiveSession {
  userId: string
  idHash: string
}

/** The session a session cookie names, if it is live and its user still exists. */
export async function activeSession (ctx: RouteContext, request: FastifyRequest): Promise<ActiveSession | null> {
  const id = readCookie(request, SESSION_COOKIE)
  if (id === undefined) return null
  const idHash = hashToken(id)
  const session = await ctx.store.findSession(idHash)
  if (session === null || session.expiresAt <= ctx.options.now()) return null
  return await ctx.users.exists(session.userId) ? { userId: session.userId, idHash } : null
}

/** Starts a new session for `userId` (never reusing an id the browser brought: no session fixation). */
export async function startSession (ctx: RouteContext, request: FastifyRequest, reply: FastifyReply, userId: string): Promise<ActiveSession> {
  const id = generateToken()
  const idHash = hashToken(id)
  const now = ctx.options.now()
  await ctx.store.createSession({ idHash, userId, createdAt: now, expiresAt: now + ctx.options.sessionTtl * 1000 })
  setCookie(request, reply, SESSION_COOKIE, id, ctx.options.sessionTtl)
  return { userId, idHash }
}

/** Ends the session the request's cookie names, if any, and clears the cookie. */
export async function endSession (ctx: RouteContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const id = readCookie(request, SESSION_COOKIE)
  if (id !== undefined) await ctx.store.deleteSession(hashToken(id))
  setCookie(request, reply, SESSION_COOKIE, '', 0)
}

/**
 * The CSRF token for a form (double submit): the one the browser's cookie holds, else a new one set in the
 * cookie. A cross-site page can neither read nor set the cookie, so it cannot post the matching token.
 */
export function csrfToken (request: FastifyRequest, reply: FastifyReply): string {
  const existing = readCookie(request, CSRF_COOKIE)
  if (existing !== undefined) return existing
  const token = generateToken()
  setCookie(request, reply, CSRF_COOKIE, token)
  return token
}

/** Whether a posted CSRF token matches the cookie's, compared in constant time. */
export function csrfValid (request: FastifyRequest, presented: unknown): boolean {
  const expected = readCookie(request, CSRF_COOKIE)
  return expected !== undefined && typeof presented === 'string' && secretMatches(presented, hashToken(expected))
}
