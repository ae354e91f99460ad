/**
 * The authorization endpoint (RFC 6749 §4.1) with PKCE (RFC 7636, S256 only), its login and consent
 * pages, and logout. A GET carries the authorization request in its query; the login and consent forms
 * post back to the same URL, so the request travels with them and the server keeps nothing until a code
 * is issued. Errors follow §4.1.2.1: until the client and its redirection URI are known good, an HTML error
 * page (never a redirect to an unregistered URI); after that, a redirect back with `error` and `state`.
 */
import { randomBytes } from 'node:crypto'
import formbody from '@fastify/formbody'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify'
import { logIn } from '../auth/login.js'
import { activeSession, csrfToken, csrfValid, CSRF_FIELD, endSession, startSession, type ActiveSession } from '../auth/session.js'
import { generateToken, hashToken } from '../crypto/tokens.js'
import { OAuth2Error, serverFailure, type OAuth2ErrorCode } from '../errors.js'
import { consentPage, errorPage, loggedOutPage, loginPage } from '../html/pages.js'
import { MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH } from '../options.js'
import { grantScopes } from '../scopes.js'
import type { ClientRecord } from '../store/store.js'
import { routePaths } from './common.js'
import type { RouteContext } from './context.js'

/** The longest value of each parameter of the authorization request. */
const MAX_LENGTH = {
  client_id: 256,
  redirect_uri: 2048,
  response_type: 64,
  scope: 1024,
  state: 1024,
  code_challenge: 128,
  code_challenge_method: 16
} as const
type Parameter = keyof typeof MAX_LENGTH

/** An S256 challenge: base64url of a SHA-256 digest, no padding (RFC 7636 §4.2). */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/

/** An authorization request whose client and redirection URI are known good. */
interface AuthorizationRequest {
  client: ClientRecord
  redirectUri: string
  state: string | undefined
  scopes: string[]
  codeChallenge: string
  /** Where the forms post: this request's own path and query. */
  action: string
}

/** The parameters of a query, each given at most once and not too long; a refusal names the first bad one. */
class Query {
  readonly #params: URLSearchParams
  constructor (raw: string) {
    this.#params = new URLSearchParams(raw)
  }

  /** The parameter's value, `undefined` when absent; a refusal (as a description) when repeated or too long. */
  get (name: Parameter): { value?: string, refusal?: string } {
    const values = this.#params.getAll(name)
    if (values.length > 1) return { refusal: `The ${name} parameter may be given only once.` }
    const value = values[0]
    if (value !== undefined && value.length > MAX_LENGTH[name]) return { refusal: `The ${name} parameter is too long.` }
    return { value }
  }
}

/** The page's answer headers: no caching, no framing, no script, styles by nonce only, forms to here (and on). */
function pageHeaders (nonce: string, formTarget: string): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-security-policy': `default-src 'none'; style-src 'nonce-${nonce}'; form-action 'self'${formTarget}; ` +
      "frame-ancestors 'none'; base-uri 'none'",
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer'
  }
}

/** Sends a page made with a fresh CSP nonce. `formTarget`: where a form's redirect may go, besides here. */
function sendPage (reply: FastifyReply, status: number, render: (nonce: string) => string, formTarget = ''): FastifyReply {
  const nonce = randomBytes(16).toString('base64')
  return reply.code(status).headers(pageHeaders(nonce, formTarget)).send(render(nonce))
}

/**
 * The CSP source of a redirection URI, for `form-action`: browsers check a form's redirects against it.
 * Its origin (`https://app.example`), or its scheme for a native app's private-use one.
 */
function formTargetOf (redirectUri: string): string {
  const url = new URL(redirectUri)
  return ` ${url.origin === 'null' ? url.protocol : url.origin}`
}

function redirect (reply: FastifyReply, location: string, status: 302 | 303): FastifyReply {
  return reply.code(status).headers({ 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).redirect(location, status)
}

/** `redirectUri` with `params` added to its query (its own query kept, RFC 6749 §3.1.2). */
function withParameters (redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri)
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.append(name, value)
  return url.href
}

/** What the forms post, as strings; a field given twice or not as text is left out. */
function formFields (body: unknown): Record<string, string | undefined> {
  if (typeof body !== 'object' || body === null) return {}
  const fields: Record<string, string | undefined> = {}
  for (const name of [CSRF_FIELD, 'username', 'password', 'consent']) {
    const value = Object.hasOwn(body, name) ? (body as Record<string, unknown>)[name] : undefined
    fields[name] = typeof value === 'string' ? value : undefined
  }
  return fields
}

/** Renders any error of these routes as the HTML error page; never leaks internals. */
function htmlErrorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = error.statusCode ?? 500
  const err = error instanceof OAuth2Error
    ? error
    : status >= 400 && status < 500
      ? new OAuth2Error('invalid_request', 'The request could not be read.', status)
      : serverFailure(request, error)
  return sendPage(reply.headers(err.headers), err.statusCode, (nonce) => errorPage(nonce, err.error, err.message))
}

/** The login page's message when a session ended between two steps of an authorization. */
const SESSION_ENDED = 'Your session has ended: log in again.'

/** The routes' encapsulated context: form bodies and the HTML error page. */
export async function prepareBrowserContext (scope: FastifyInstance, bodyLimit: number): Promise<void> {
  if (!scope.hasContentTypeParser('application/x-www-form-urlencoded')) await scope.register(formbody, { bodyLimit })
  scope.setErrorHandler(htmlErrorHandler)
  scope.addHook('onRoute', (route) => {
    route.bodyLimit ??= bodyLimit
  })
}

/** `GET`/`POST` on the authorization endpoint, and `POST` on logout. */
export function authorizeRoutes (app: FastifyInstance, ctx: RouteContext, path: string, logoutPath: string | false): void {
  const { options, store } = ctx
  const pages = { login: options.pages.login ?? loginPage, consent: options.pages.consent ?? consentPage }

  /**
   * Reads the authorization request: the request itself, or where to redirect the browser with an error.
   * Throws (an HTML error page) while the client or its redirection URI is in doubt.
   */
  async function readRequest (request: FastifyRequest): Promise<AuthorizationRequest | string> {
    const q = request.url.indexOf('?')
    const raw = q < 0 ? '' : request.url.slice(q + 1)
    const query = new Query(raw)
    const clientId = query.get('client_id')
    if (clientId.refusal !== undefined) throw new OAuth2Error('invalid_request', clientId.refusal)
    if (clientId.value === undefined || clientId.value === '') throw new OAuth2Error('invalid_request', 'The client_id parameter is missing.')
    const client = await store.findClient(clientId.value)
    if (client === null) throw new OAuth2Error('invalid_client', 'The client is unknown.')
    const redirectUri = query.get('redirect_uri')
    if (redirectUri.refusal !== undefined) throw new OAuth2Error('invalid_request', redirectUri.refusal)
    let target: string
    if (redirectUri.value === undefined) {
      if (client.redirectUris.length !== 1) {
        throw new OAuth2Error('invalid_request', 'The redirect_uri parameter is required for this client.')
      }
      target = client.redirectUris[0] as string
    } else if (client.redirectUris.includes(redirectUri.value)) {
      target = redirectUri.value
    } else {
      throw new OAuth2Error('invalid_request', 'The redirect_uri is not registered for this client.')
    }

    // From here on the browser goes back to the client, with `state` if it is well-formed.
    const state = query.get('state')
    const back = (error: OAuth2ErrorCode, description: string): string =>
      withParameters(target, { error, error_description: description, state: state.value })
    if (state.refusal !== undefined) return withParameters(target, { error: 'invalid_request', error_description: state.refusal })
    const params: Partial<Record<Parameter, string>> = {}
    for (const name of ['response_type', 'scope', 'code_challenge', 'code_challenge_method'] as const) {
      const { value, refusal } = query.get(name)
      if (refusal !== undefined) return back('invalid_request', refusal)
      params[name] = value
    }
    if (params.response_type === undefined) return back('invalid_request', 'The response_type parameter is missing.')
    if (params.response_type !== 'code') return back('unsupported_response_type', 'Only response_type=code is supported.')
    if (!client.grants.includes('authorization_code')) {
      return back('unauthorized_client', 'The client is not allowed to use the authorization code grant.')
    }
    if (params.code_challenge === undefined) return back('invalid_request', 'PKCE is required: send code_challenge and code_challenge_method=S256.')
    if (params.code_challenge_method !== 'S256') return back('invalid_request', 'Only code_challenge_method=S256 is supported.')
    if (!S256_CHALLENGE.test(params.code_challenge)) return back('invalid_request', 'The code_challenge is not an S256 challenge.')
    let scopes: string[]
    try {
      scopes = grantScopes(params.scope, client, options)
    } catch (err) {
      const refusal = err as OAuth2Error
      return back(refusal.error, refusal.message)
    }
    const route = request.routeOptions.url as string
    return { client, redirectUri: target, state: state.value, scopes, codeChallenge: params.code_challenge, action: `${route}?${raw}` }
  }

  /**
   * Issues a code for the request and the session's user: where the browser goes next, or `null` if the
   * session ended meanwhile. The session is looked up again once the code is stored: "log out everywhere"
   * (`deleteUserSessions`) deletes a user's sessions and pending codes together, so a code stored before it
   * is deleted with them, and one stored after it is never shown (nobody can redeem it).
   */
  async function issueCode (req: AuthorizationRequest, session: ActiveSession): Promise<string | null> {
    const code = generateToken()
    const now = options.now()
    await store.createAuthorizationCode({
      codeHash: hashToken(code),
      clientId: req.client.id,
      userId: session.userId,
      redirectUri: req.redirectUri,
      scopes: req.scopes,
      codeChallenge: req.codeChallenge,
      createdAt: now,
      expiresAt: now + options.authorizationCodeTtl * 1000
    })
    if (await store.findSession(session.idHash) === null) return null
    return withParameters(req.redirectUri, { code, state: req.state })
  }

  /** Back to the client with a code, or the login page again if the session ended meanwhile. */
  async function redirectWithCode (request: FastifyRequest, reply: FastifyReply, req: AuthorizationRequest,
    session: ActiveSession, status: 302 | 303): Promise<FastifyReply> {
    const target = await issueCode(req, session)
    if (target === null) return showLogin(request, reply, req, 200, SESSION_ENDED)
    return redirect(reply, target, status)
  }

  function formView (request: FastifyRequest, reply: FastifyReply, req: AuthorizationRequest, nonce: string): {
    action: string, csrfField: string, csrfToken: string, clientName: string, styleNonce: string
  } {
    return { action: req.action, csrfField: CSRF_FIELD, csrfToken: csrfToken(request, reply), clientName: req.client.name, styleNonce: nonce }
  }

  function showLogin (request: FastifyRequest, reply: FastifyReply, req: AuthorizationRequest, status: number,
    error: string | null, username = ''): FastifyReply {
    return sendPage(reply, status, (nonce) => pages.login({ ...formView(request, reply, req, nonce), username, error }),
      formTargetOf(req.redirectUri))
  }

  /** A logged-in user: the consent page for a client that asks for it, else straight back with a code. */
  async function proceed (request: FastifyRequest, reply: FastifyReply, req: AuthorizationRequest, session: ActiveSession,
    status: 302 | 303): Promise<FastifyReply> {
    if (req.client.requireConsent) {
      return sendPage(reply, 200, (nonce) => pages.consent({ ...formView(request, reply, req, nonce), scopes: req.scopes }),
        formTargetOf(req.redirectUri))
    }
    return await redirectWithCode(request, reply, req, session, status)
  }

  async function authorize (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const req = await readRequest(request)
    if (typeof req === 'string') return redirect(reply, req, 302)
    const session = await activeSession(ctx, request)
    if (session === null) return showLogin(request, reply, req, 200, null)
    return await proceed(request, reply, req, session, 302)
  }

  /** The login and consent forms' posts. */
  async function submit (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const req = await readRequest(request)
    if (typeof req === 'string') return redirect(reply, req, 303)
    const fields = formFields(request.body)
    if (!csrfValid(request, fields[CSRF_FIELD])) {
      throw new OAuth2Error('invalid_request', 'The form expired or did not come from this server: go back, reload it and try again.', 403)
    }
    if (fields.consent !== undefined) {
      const session = await activeSession(ctx, request)
      if (session === null) return showLogin(request, reply, req, 200, SESSION_ENDED)
      if (fields.consent !== 'approve') {
        return redirect(reply, withParameters(req.redirectUri, { error: 'access_denied', error_description: 'The user denied the request.', state: req.state }), 303)
      }
      return await redirectWithCode(request, reply, req, session, 303)
    }
    const { username = '', password = '' } = fields
    if (username === '' || password === '') return showLogin(request, reply, req, 400, 'Enter your username and password.', username)
    if (username.length > MAX_USERNAME_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
      return showLogin(request, reply, req, 400, 'The username or password is incorrect.')
    }
    let userId: string
    try {
      userId = await logIn(ctx, username, password, request.ip)
    } catch (err) {
      if (!(err instanceof OAuth2Error)) throw err
      // One message for an unknown user and a wrong password; a throttled or unavailable login says so.
      const message = err.error === 'invalid_grant' ? 'The username or password is incorrect.' : err.message
      reply.headers(err.headers)
      return showLogin(request, reply, req, err.statusCode, message, username)
    }
    const session = await startSession(ctx, request, reply, userId)
    return await proceed(request, reply, req, session, 303)
  }

  async function logout (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    await endSession(ctx, request, reply)
    return sendPage(reply, 200, (nonce) => loggedOutPage(nonce))
  }

  // Pages for a browser, not an API: left out of @fastify/swagger's document.
  const hidden = { schema: { hide: true } as FastifySchema }
  for (const url of routePaths(app, path)) {
    app.get(url, hidden, authorize)
    app.post(url, hidden, submit)
  }
  if (logoutPath !== false) for (const url of routePaths(app, logoutPath)) app.post(url, hidden, logout)
}
