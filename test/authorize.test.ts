/**
 * The authorization code grant as a browser sees it: the login page, the session, consent, the code's
 * redirect back, its exchange with PKCE at the token endpoint, replay and expiry, logout, and the app's own
 * login page.
 */
import t, { type Test } from 'tap'
import { hashToken } from '../lib/crypto/tokens.js'
import { createClient, escapeHtml, type LoginPageView } from '../lib/index.js'
import { buildApp, type TestApp } from './fixtures/app.js'
import {
  actionOf, authorizeUrl, codeClient, codeOf, codesAndSessions, csrfOf, exchange, Jar, pkce, REDIRECT, requestParams, submit, visit
} from './fixtures/authorize.js'

const USER = { username: 'pony', password: 'djangsta-secret' }

async function setUp (t: Test, options: Parameters<typeof buildApp>[1] = {}): Promise<TestApp & { clientId: string }> {
  const ctx = await buildApp(t, options)
  t.equal((await ctx.signUp(USER.username, USER.password)).statusCode, 201)
  return { ...ctx, clientId: await codeClient(ctx.store) }
}

/** Logs in through the page: the answer to the form's post. */
async function logIn (ctx: TestApp, jar: Jar, url: string, password = USER.password) {
  const page = await visit(ctx.app, jar, url)
  return await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), username: USER.username, password })
}

t.test('the whole flow: login page, code, exchange, a working token', async (t) => {
  const ctx = await setUp(t)
  const { verifier, challenge } = pkce()
  const jar = new Jar()
  const url = authorizeUrl(requestParams(ctx.clientId, challenge))
  const page = await visit(ctx.app, jar, url)
  t.equal(page.statusCode, 200)
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8')
  t.equal(page.headers['cache-control'], 'no-store')
  t.equal(page.headers['x-frame-options'], 'DENY')
  const csp = page.headers['content-security-policy'] as string
  t.match(csp, /frame-ancestors 'none'/)
  t.match(csp, /default-src 'none'/)
  t.notMatch(csp, /script-src|unsafe-inline/, 'no script allowed at all')
  t.match(csp, /form-action 'self' http:\/\/127\.0\.0\.1:5173/, 'the form may redirect to the client only')
  const nonce = /style-src 'nonce-([^']+)'/.exec(csp)?.[1] as string
  t.ok(page.body.includes(`<style nonce="${nonce}">`), 'the stylesheet carries the nonce')
  t.notMatch(page.body, /<script/)
  t.match(page.body, /<form method="post" action="[^"]+">/)
  t.match(page.body, /<label for="username">Username<\/label>\s*<input id="username" name="username"/)
  t.match(page.body, /<label for="password">Password<\/label>\s*<input id="password" name="password" type="password"/)
  t.match(page.body, /Web &lt;app&gt;/, 'the client name, escaped')
  const csrfCookie = page.cookies.find((c) => c.name === 'oauth2_csrf')
  t.match(csrfCookie, { httpOnly: true, sameSite: 'Lax', path: '/' })
  t.notOk(csrfCookie?.secure, 'plain http on loopback: not Secure')
  t.equal(await ctx.store.deleteExpiredCodesAndSessions(Number.MAX_SAFE_INTEGER, 0), 0)

  const back = await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), ...USER })
  t.equal(back.statusCode, 303)
  const location = new URL(back.headers.location as string)
  t.equal(`${location.origin}${location.pathname}`, REDIRECT)
  t.equal(location.searchParams.get('state'), 'xyz')
  const code = location.searchParams.get('code') as string
  t.match(code, /^[A-Za-z0-9_-]{43}$/, 'a 256-bit code')
  const session = back.cookies.find((c) => c.name === 'oauth2_session')
  t.match(session, { httpOnly: true, sameSite: 'Lax', path: '/', maxAge: 86_400 })
  t.equal(await ctx.store.findSession(session?.value as string), null, 'the store keeps no session id in clear')
  t.match(await ctx.store.findSession(hashToken(session?.value as string)), { userId: String }, 'but its SHA-256')
  t.equal(await ctx.store.findAuthorizationCode(codeOf(back).code), null, 'nor the code')

  const tokens = await exchange(ctx.app, { code, code_verifier: verifier, client_id: ctx.clientId })
  t.equal(tokens.statusCode, 200)
  t.equal(tokens.headers['cache-control'], 'no-store')
  const body = tokens.json()
  t.match(body, { token_type: 'Bearer', expires_in: 3600, scope: 'read write', refresh_token: String })
  t.equal((await ctx.me(body.access_token)).json().user.username, 'pony')
  const refreshed = await ctx.refresh(body.refresh_token, { client_id: ctx.clientId })
  t.equal(refreshed.statusCode, 200, 'the family refreshes as a password login does')
})

t.test('a logged-in user goes straight back to the client, each time with a new code', async (t) => {
  const ctx = await setUp(t)
  const jar = new Jar()
  const first = await logIn(ctx, jar, authorizeUrl(requestParams(ctx.clientId, pkce().challenge)))
  const again = await visit(ctx.app, jar, authorizeUrl(requestParams(ctx.clientId, pkce().challenge, { state: 'second' })))
  t.equal(again.statusCode, 302)
  t.equal(codeOf(again).state, 'second')
  t.not(codeOf(again).code, codeOf(first).code)
  t.equal(again.headers['cache-control'], 'no-store')
})

t.test('a code is single use: a replay is invalid_grant and revokes the tokens it issued', async (t) => {
  const ctx = await setUp(t)
  const { verifier, challenge } = pkce()
  const { code } = codeOf(await logIn(ctx, new Jar(), authorizeUrl(requestParams(ctx.clientId, challenge))))
  const fields = { code, code_verifier: verifier, client_id: ctx.clientId }
  const first = await exchange(ctx.app, fields)
  t.equal(first.statusCode, 200)
  const { access_token: access, refresh_token: refresh } = first.json()
  const replay = await exchange(ctx.app, fields)
  t.equal(replay.statusCode, 400)
  t.equal(replay.json().error, 'invalid_grant')
  t.equal((await ctx.me(access)).statusCode, 401, 'the access token is revoked')
  t.equal((await ctx.refresh(refresh, { client_id: ctx.clientId })).json().error, 'invalid_grant', 'and its refresh token')
})

t.test('a code lives 60 s by default (authorizationCodeTtl)', async (t) => {
  for (const [ttl, wait, status] of [[undefined, 59, 200], [undefined, 60, 400], [5, 5, 400]] as const) {
    const ctx = await setUp(t, ttl === undefined ? {} : { authorizationCodeTtl: ttl })
    const { verifier, challenge } = pkce()
    const { code } = codeOf(await logIn(ctx, new Jar(), authorizeUrl(requestParams(ctx.clientId, challenge))))
    ctx.advance(wait)
    const res = await exchange(ctx.app, { code, code_verifier: verifier, client_id: ctx.clientId })
    t.equal(res.statusCode, status, `ttl ${ttl ?? 'default'}, exchanged after ${wait} s`)
  }
})

t.test('sessions expire (sessionTtl), end at logout, and a deleted user\'s session is none', async (t) => {
  const ctx = await setUp(t, { sessionTtl: 600 })
  const jar = new Jar()
  const url = authorizeUrl(requestParams(ctx.clientId, pkce().challenge))
  t.equal((await logIn(ctx, jar, url)).statusCode, 303)
  t.equal((await visit(ctx.app, jar, url)).statusCode, 302)
  ctx.advance(600)
  t.equal((await visit(ctx.app, jar, url)).statusCode, 200, 'expired: the login page again')

  await logIn(ctx, jar, url)
  const out = await ctx.app.inject({ method: 'POST', url: '/o/logout/', headers: { cookie: jar.header } })
  t.equal(out.statusCode, 200)
  t.match(out.body, /logged out/)
  t.match(out.headers['content-security-policy'], /frame-ancestors 'none'/)
  t.match(out.cookies.find((c) => c.name === 'oauth2_session'), { value: '', maxAge: 0 })
  const stale = jar.header
  jar.take(out)
  t.equal((await visit(ctx.app, jar, url)).statusCode, 200, 'logged out: the login page')
  t.equal((await ctx.app.inject({ method: 'GET', url, headers: { cookie: stale } })).statusCode, 200, 'the old cookie is dead in the store')
  t.equal((await ctx.app.inject({ method: 'POST', url: '/o/logout' })).statusCode, 200, 'logging out without a session is fine')
})

t.test('behind https, or on another host, the cookies are Secure and __Host- prefixed', async (t) => {
  const ctx = await setUp(t)
  const jar = new Jar()
  const headers = { host: 'auth.example.com' }
  const url = authorizeUrl(requestParams(ctx.clientId, pkce().challenge))
  const page = await visit(ctx.app, jar, url, headers)
  t.match(page.cookies.find((c) => c.name === '__Host-oauth2_csrf'), { secure: true, httpOnly: true, sameSite: 'Lax', path: '/' })
  const back = await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), ...USER }, headers)
  t.equal(back.statusCode, 303)
  t.match(back.cookies.find((c) => c.name === '__Host-oauth2_session'), { secure: true, httpOnly: true })
  t.equal((await visit(ctx.app, jar, url, headers)).statusCode, 302, 'the session holds')
  t.equal((await visit(ctx.app, jar, url)).statusCode, 200, 'an unprefixed cookie is not read where prefixed ones are due, and vice versa')
})

t.test('a wrong password or an unknown user: the page again, one generic message; then 429', async (t) => {
  const ctx = await setUp(t, { throttle: { loginFailuresPerUser: 2 } })
  const jar = new Jar()
  const url = authorizeUrl(requestParams(ctx.clientId, pkce().challenge))
  const page = await visit(ctx.app, jar, url)
  const post = async (username: string, password: string) =>
    await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), username, password })
  const wrong = await post('pony', 'not-the-password')
  const unknown = await post('nobody', 'not-the-password')
  for (const res of [wrong, unknown]) {
    t.equal(res.statusCode, 400)
    t.match(res.body, /<p class="error" id="login-error" role="alert">The username or password is incorrect\.<\/p>/)
    t.match(res.body, /aria-describedby="login-error"/)
    t.equal(res.cookies.find((c) => c.name === 'oauth2_session'), undefined)
  }
  t.match(wrong.body, /value="pony"/, 'the username is refilled')
  const blank = (body: string): string => body.replace(/value="[^"]*"/g, '').replace(/nonce="[^"]+"/, '')
  t.equal(blank(wrong.body), blank(unknown.body), 'the same page for both')
  t.equal((await post('pony', 'not-the-password')).statusCode, 400)
  const throttled = await post('pony', USER.password)
  t.equal(throttled.statusCode, 429)
  t.ok(Number(throttled.headers['retry-after']) > 0)
  t.match(throttled.body, /Too many/)
  t.equal(await codesAndSessions(ctx.store), 0, 'no code and no session')
})

t.test('missing fields and over-long values show the page again, without a hash', async (t) => {
  const ctx = await setUp(t)
  const jar = new Jar()
  const page = await visit(ctx.app, jar, authorizeUrl(requestParams(ctx.clientId, pkce().challenge)))
  const csrf = csrfOf(page.body)
  const cases: Array<Record<string, string>> = [{}, { username: 'pony' }, { password: 'x' }, { username: 'p'.repeat(1025), password: 'x' }, { username: 'pony', password: 'x'.repeat(4097) }]
  for (const fields of cases) {
    const res = await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrf, ...fields })
    t.equal(res.statusCode, 400)
    t.match(res.body, /Enter your username and password|incorrect/)
  }
  const lone = await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrf, username: 'pony', password: '\uD800' })
  t.equal(lone.statusCode, 400, 'a lone surrogate is refused by logIn')
  t.equal(await codesAndSessions(ctx.store), 0)
})

t.test('a client with requireConsent: a page listing its scopes; approve or deny', async (t) => {
  const ctx = await setUp(t)
  const clientId = await codeClient(ctx.store, { requireConsent: true })
  const jar = new Jar()
  const url = authorizeUrl(requestParams(clientId, pkce().challenge, { scope: 'read' }))
  const consent = await logIn(ctx, jar, url)
  t.equal(consent.statusCode, 200)
  t.match(consent.body, /<h1>Allow access\?<\/h1>/)
  t.match(consent.body, /<li><code>read<\/code><\/li>/)
  t.notMatch(consent.body, /<code>write<\/code>/)
  t.match(consent.headers['content-security-policy'], /frame-ancestors 'none'/)
  const page = await visit(ctx.app, jar, url)
  t.match(page.body, /Allow access/, 'a logged-in user sees the consent page too')
  const csrf = csrfOf(page.body)

  const denied = await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrf, consent: 'deny' })
  t.equal(denied.statusCode, 303)
  const deniedAt = new URL(denied.headers.location as string)
  t.equal(deniedAt.searchParams.get('error'), 'access_denied')
  t.equal(deniedAt.searchParams.get('state'), 'xyz')
  t.equal(deniedAt.searchParams.get('code'), null)

  const approved = await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrf, consent: 'approve' })
  t.equal(approved.statusCode, 303)
  t.match(codeOf(approved).code, /^[A-Za-z0-9_-]{43}$/)

  const forged = await submit(ctx.app, jar, actionOf(page.body), { csrf_token: 'x'.repeat(43), consent: 'approve' })
  t.equal(forged.statusCode, 403, 'consent needs the CSRF token')

  const anonymous = new Jar()
  anonymous.cookies.set('oauth2_csrf', csrf)
  const lost = await submit(ctx.app, anonymous, actionOf(page.body), { csrf_token: csrf, consent: 'approve' })
  t.equal(lost.statusCode, 200, 'consent without a session: the login page')
  t.match(lost.body, /Your session has ended/)
})

t.test('the app\'s own login page keeps the CSRF check and the throttle', async (t) => {
  const views: LoginPageView[] = []
  const login = (view: LoginPageView): string => {
    views.push(view)
    return `<!doctype html><title>Ours</title><style nonce="${escapeHtml(view.styleNonce)}"></style>` +
      `<form method="post" action="${escapeHtml(view.action)}"><input type="hidden" name="${view.csrfField}" value="${escapeHtml(view.csrfToken)}">` +
      `<p>${escapeHtml(view.error ?? '')}</p><input name="username"><input name="password" type="password"></form>`
  }
  const ctx = await setUp(t, { pages: { login }, throttle: { loginFailuresPerUser: 1 } })
  const jar = new Jar()
  const page = await visit(ctx.app, jar, authorizeUrl(requestParams(ctx.clientId, pkce().challenge)))
  t.equal(page.statusCode, 200)
  t.match(page.body, /<title>Ours<\/title>/)
  t.match(views[0], { csrfField: 'csrf_token', clientName: 'Web <app>', username: '', error: null })
  t.equal((await submit(ctx.app, jar, actionOf(page.body), { username: 'pony', password: USER.password })).statusCode, 403, 'no CSRF token')
  t.equal((await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), username: 'pony', password: 'wrong-one' })).statusCode, 400)
  t.equal(views.at(-1)?.error, 'The username or password is incorrect.')
  t.equal((await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), ...USER })).statusCode, 429)
})

t.test('routes.authorize: another path, or off (and with it logout, the grant in the metadata)', async (t) => {
  const moved = await setUp(t, { routes: { authorize: '/auth', logout: '/bye' } })
  const url = authorizeUrl(requestParams(moved.clientId, pkce().challenge)).replace('/o/authorize/', '/auth')
  t.equal((await moved.app.inject({ method: 'GET', url })).statusCode, 200)
  t.equal((await moved.app.inject({ method: 'POST', url: '/bye/' })).statusCode, 200)
  const meta = (await moved.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json()
  t.match(meta, {
    authorization_endpoint: 'http://localhost:80/auth',
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256']
  })
  t.ok(meta.grant_types_supported.includes('authorization_code'))

  const off = await setUp(t, { routes: { authorize: false } })
  t.equal((await off.app.inject({ method: 'GET', url: authorizeUrl(requestParams(off.clientId, 'x')) })).statusCode, 404)
  t.equal((await off.app.inject({ method: 'POST', url: '/o/logout/' })).statusCode, 404)
  const offMeta = (await off.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json()
  t.equal(offMeta.authorization_endpoint, undefined)
  t.same(offMeta.response_types_supported, [])
  t.notOk(offMeta.grant_types_supported.includes('authorization_code'))
})

t.test('createClient: the authorization_code grant needs a redirect URI', async (t) => {
  const ctx = await buildApp(t)
  await t.rejects(createClient(ctx.store, { name: 'x', type: 'public', grants: ['authorization_code'] }), {
    name: 'TypeError', message: 'the authorization_code grant needs at least one redirect URI'
  })
})

t.test('a native app\'s private-use redirect URI: the form may redirect to its scheme', async (t) => {
  const ctx = await setUp(t)
  const clientId = await codeClient(ctx.store, { redirectUris: ['com.example.app:/callback'] })
  const jar = new Jar()
  const url = authorizeUrl(requestParams(clientId, pkce().challenge, { redirect_uri: 'com.example.app:/callback' }))
  const page = await visit(ctx.app, jar, url)
  t.match(page.headers['content-security-policy'], /form-action 'self' com\.example\.app:;/)
  const back = await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), ...USER })
  t.match(back.headers.location, /^com\.example\.app:\/callback\?code=[\w-]{43}&state=xyz$/)
})

t.test('options: routes.logout false keeps the authorization endpoint; pages must be functions', async (t) => {
  const ctx = await setUp(t, { routes: { logout: false } })
  t.equal((await ctx.app.inject({ method: 'POST', url: '/o/logout/' })).statusCode, 404)
  t.equal((await ctx.app.inject({ method: 'GET', url: authorizeUrl(requestParams(ctx.clientId, pkce().challenge)) })).statusCode, 200)
  for (const pages of [{ login: '<html>' }, { consent: 1 }]) {
    await t.rejects(buildApp(t, { pages } as never), { code: 'FST_OAUTH2_INVALID_OPTION', message: /option "pages\.(login|consent)" must be a function returning HTML/ })
  }
})

t.test('an app that parses forms itself: the forms work all the same', async (t) => {
  const ctx = await buildApp(t, {}, async (app) => { await app.register((await import('@fastify/formbody')).default) })
  t.equal((await ctx.signUp(USER.username, USER.password)).statusCode, 201)
  const clientId = await codeClient(ctx.store)
  const back = await logIn(ctx, new Jar(), authorizeUrl(requestParams(clientId, pkce().challenge)))
  t.equal(back.statusCode, 303)
})
