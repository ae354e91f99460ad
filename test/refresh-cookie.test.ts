/**
 * Browser clients (`refreshCookie`): the refresh token travels in an HttpOnly cookie, never in the body;
 * token requests must come from a registered origin as JSON; CORS with credentials for those origins only;
 * plain clients see no change. The last part refreshes in parallel over real HTTP, on every store.
 */
import type { LightMyRequestResponse } from 'fastify'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { generateToken, hashToken } from '../lib/crypto/tokens.js'
import oauth2, { createClient, MemoryStore, type OAuth2Store } from '../lib/index.js'
import { buildApp, T0, type TestApp } from './fixtures/app.js'
import { pkce, REDIRECT } from './fixtures/authorize.js'
import { forEachStore } from './fixtures/stores.js'

const ORIGIN = 'http://127.0.0.1:5173'
const FORM = 'application/x-www-form-urlencoded'

async function cookieClient (store: OAuth2Store, grants?: Array<'password' | 'refresh_token' | 'authorization_code'>): Promise<string> {
  const { client } = await createClient(store, {
    name: 'spa', type: 'public', refreshCookie: true, origins: [ORIGIN, 'https://app.example'], grants, redirectUris: grants?.includes('authorization_code') === true ? [REDIRECT] : undefined, now: T0
  })
  return client.id
}

/** A JSON token request from the SPA's origin, with the cookie header given. */
async function token (ctx: TestApp, body: Record<string, string>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await ctx.app.inject({ method: 'POST', url: '/o/token/', headers: { origin: ORIGIN, 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) })
}

/** The `name=value` part of the response's one Set-Cookie, and the whole header. */
function cookieOf (res: LightMyRequestResponse): { pair: string, value: string, header: string } {
  const header = res.headers['set-cookie']
  if (typeof header !== 'string') throw new Error(`one Set-Cookie expected, got ${JSON.stringify(header)}`)
  const pair = header.split(';')[0] as string
  return { pair, value: pair.slice(pair.indexOf('=') + 1), header }
}

async function setUp (t: Test, store?: OAuth2Store): Promise<{ ctx: TestApp, clientId: string }> {
  const ctx = await buildApp(t, store === undefined ? {} : { store })
  t.equal((await ctx.signUp('pony', 'djangsta-secret')).statusCode, 201)
  return { ctx, clientId: await cookieClient(ctx.store) }
}

t.test('a plain client sees no change: refresh_token in the body, no Set-Cookie, no CORS headers', async (t) => {
  const ctx = await buildApp(t)
  await ctx.signUp('pony', 'djangsta-secret')
  const res = await ctx.app.inject({ method: 'POST', url: '/o/token/', headers: { origin: ORIGIN }, payload: { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: ctx.publicId } })
  t.equal(res.statusCode, 200)
  t.type(res.json().refresh_token, 'string')
  t.equal(res.headers['set-cookie'], undefined)
  t.equal(res.headers['access-control-allow-origin'], undefined)
  const revoked = await ctx.app.inject({ method: 'POST', url: '/o/revoke_token/', payload: { token: res.json().access_token, client_id: ctx.publicId } })
  t.equal(revoked.statusCode, 200)
  t.equal(revoked.headers['set-cookie'], undefined)
})

t.test('login, refresh through the cookie, rotation, and the reuse rules unchanged', async (t) => {
  const { ctx, clientId } = await setUp(t)
  const login = await token(ctx, { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: clientId })
  t.equal(login.statusCode, 200)
  t.same(Object.keys(login.json()), ['access_token', 'expires_in', 'token_type', 'scope'], 'no refresh_token in the body')
  const first = cookieOf(login)
  t.equal(first.header, `oauth2_refresh_${clientId}=${first.value}; Path=/o/token; Max-Age=2592000; HttpOnly; SameSite=Strict`,
    'HttpOnly, SameSite=Strict, the token route only, the refresh lifetime; no Secure on plain-http loopback')
  t.equal(login.headers['access-control-allow-origin'], ORIGIN)
  t.equal(login.headers['access-control-allow-credentials'], 'true')
  t.notMatch(login.body, first.value, 'the refresh token is nowhere in the body')

  ctx.advance(10)
  const refreshed = await token(ctx, { grant_type: 'refresh_token', client_id: clientId }, { cookie: `other=1; ${first.pair}` })
  t.equal(refreshed.statusCode, 200)
  t.equal(refreshed.json().refresh_token, undefined)
  const second = cookieOf(refreshed)
  t.not(second.value, first.value, 'rotated: a new cookie')
  t.equal((await ctx.me(refreshed.json().access_token)).statusCode, 200)
  t.equal((await ctx.me(login.json().access_token)).statusCode, 401, 'the old access token is dead')

  // Explicit refresh_token in the body still works for the client (from its origin, as JSON).
  const empty = await token(ctx, { grant_type: 'refresh_token', client_id: clientId, refresh_token: '' }, { cookie: second.pair })
  t.equal(empty.statusCode, 200, 'an empty refresh_token parameter: the cookie')
  const explicit = await token(ctx, { grant_type: 'refresh_token', client_id: clientId, refresh_token: cookieOf(empty).value })
  t.equal(explicit.statusCode, 200)
  // Replaying the first cookie after the reuse window ends the family, as for any client.
  ctx.advance(120)
  const replay = await token(ctx, { grant_type: 'refresh_token', client_id: clientId }, { cookie: first.pair })
  t.equal(replay.statusCode, 400)
  t.equal(replay.json().error, 'invalid_grant')
  t.equal(replay.headers['set-cookie'], undefined)
  t.equal((await ctx.me(explicit.json().access_token)).statusCode, 401, 'the family ended')

  const none = await token(ctx, { grant_type: 'refresh_token', client_id: clientId }, { cookie: `oauth2_refresh_${clientId}=not-a-token` })
  t.equal(none.statusCode, 400)
  t.match(none.json(), { error: 'invalid_request', error_description: 'Request is missing refresh_token parameter.' })
})

t.test('CSRF: without a registered Origin, or not as JSON, refused and nothing rotated', async (t) => {
  const { ctx, clientId } = await setUp(t)
  const login = await token(ctx, { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: clientId })
  const { pair, value } = cookieOf(login)
  const params = { grant_type: 'refresh_token', client_id: clientId }
  const attempts: Array<[string, Record<string, string>, string]> = [
    ['no Origin', { origin: '' }, 'registered origins'],
    ['another origin', { origin: 'http://127.0.0.1:9999' }, 'registered origins'],
    ['a registered origin with a path', { origin: `${ORIGIN}/` }, 'registered origins'],
    ['a form post from the registered origin', { 'content-type': FORM }, 'application/json']
  ]
  for (const [label, headers, description] of attempts) {
    const send: Record<string, string> = { origin: ORIGIN, 'content-type': 'application/json', cookie: pair, ...headers }
    if (send.origin === '') delete send.origin
    const payload = send['content-type'] === FORM ? new URLSearchParams(params).toString() : JSON.stringify(params)
    const res = await ctx.app.inject({ method: 'POST', url: '/o/token/', headers: send, payload })
    t.equal(res.statusCode, 400, label)
    t.equal(res.json().error, 'invalid_request', label)
    t.match(res.json().error_description, description, label)
    t.equal(res.headers['set-cookie'], undefined, `${label}: no cookie`)
  }
  const record = await ctx.store.findByRefreshTokenHash(hashToken(value))
  t.equal(record?.rotatedAt, null, 'nothing rotated')
  t.equal((await ctx.me(login.json().access_token)).statusCode, 200, 'still logged in')
  // A login from a form is refused too (no login CSRF), before the password is even checked.
  const formLogin = await ctx.app.inject({ method: 'POST', url: '/o/token/', headers: { origin: ORIGIN, 'content-type': FORM }, payload: new URLSearchParams({ grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: clientId }).toString() })
  t.equal(formLogin.statusCode, 400)
  t.equal((await token(ctx, { grant_type: 'refresh_token', client_id: clientId }, { cookie: pair })).statusCode, 200, 'the cookie still works')
})

t.test('Secure and __Secure- off loopback; the authorization_code grant sets the cookie too', async (t) => {
  const ctx = await buildApp(t)
  await ctx.signUp('pony', 'djangsta-secret')
  const clientId = await cookieClient(ctx.store, ['authorization_code', 'refresh_token'])
  const userId = (await ctx.store.findUserByUsernameKey('pony'))?.id as string
  const { verifier, challenge } = pkce()
  const code = generateToken()
  await ctx.store.createAuthorizationCode({ codeHash: hashToken(code), clientId, userId, redirectUri: REDIRECT, scopes: ['read'], codeChallenge: challenge, createdAt: T0, expiresAt: T0 + 60_000 })
  const host = { host: 'auth.example', origin: 'https://app.example' }
  const res = await token(ctx, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: clientId }, host)
  t.equal(res.statusCode, 200)
  t.equal(res.json().refresh_token, undefined)
  const cookie = cookieOf(res)
  t.equal(cookie.header, `__Secure-oauth2_refresh_${clientId}=${cookie.value}; Path=/o/token; Max-Age=2592000; HttpOnly; SameSite=Strict; Secure`)
  const refreshed = await token(ctx, { grant_type: 'refresh_token', client_id: clientId }, { ...host, cookie: cookie.pair })
  t.equal(refreshed.statusCode, 200)
  t.match(cookieOf(refreshed).header, /^__Secure-oauth2_refresh_/)
})

t.test('revoking clears the cookie (the logout of a browser client)', async (t) => {
  const { ctx, clientId } = await setUp(t)
  const login = await token(ctx, { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: clientId })
  const { pair } = cookieOf(login)
  const res = await ctx.app.inject({ method: 'POST', url: '/o/revoke_token/', headers: { origin: ORIGIN, 'content-type': 'application/json' }, payload: JSON.stringify({ token: login.json().access_token, client_id: clientId }) })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['set-cookie'], `oauth2_refresh_${clientId}=; Path=/o/token; Max-Age=0; HttpOnly; SameSite=Strict`)
  t.equal(res.headers['access-control-allow-origin'], ORIGIN)
  const after = await token(ctx, { grant_type: 'refresh_token', client_id: clientId }, { cookie: pair })
  t.equal(after.statusCode, 400, 'the refresh token died with its record')
})

t.test('CSRF on logout: a revocation without a registered Origin, or not as JSON, is refused; nothing revoked, no cookie cleared', async (t) => {
  const { ctx, clientId } = await setUp(t)
  const login = await token(ctx, { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: clientId })
  const { pair } = cookieOf(login)
  const accessToken = login.json().access_token as string
  // What another site's page can send: a form post (its own Origin, or none), with or without the token.
  const attempts: Array<[string, Record<string, string>, string, string]> = [
    ['a form post from another site', { origin: 'https://evil.example', 'content-type': FORM }, 'some-guess', 'registered origins'],
    ['a form post with no Origin', { 'content-type': FORM }, accessToken, 'registered origins'],
    ['JSON from another origin', { origin: 'http://127.0.0.1:9999', 'content-type': 'application/json' }, accessToken, 'registered origins'],
    ['a form post from the registered origin', { origin: ORIGIN, 'content-type': FORM }, accessToken, 'application/json']
  ]
  for (const [label, headers, tokenValue, description] of attempts) {
    const params = { token: tokenValue, client_id: clientId }
    const payload = headers['content-type'] === FORM ? new URLSearchParams(params).toString() : JSON.stringify(params)
    const res = await ctx.app.inject({ method: 'POST', url: '/o/revoke_token/', headers: { ...headers, cookie: pair }, payload })
    t.equal(res.statusCode, 400, label)
    t.equal(res.json().error, 'invalid_request', label)
    t.match(res.json().error_description, description, label)
    t.equal(res.headers['set-cookie'], undefined, `${label}: the cookie stays`)
  }
  t.equal((await ctx.me(accessToken)).statusCode, 200, 'still logged in: nothing was revoked')
  t.equal((await token(ctx, { grant_type: 'refresh_token', client_id: clientId }, { cookie: pair })).statusCode, 200, 'the cookie still works')
})

t.test('CORS: preflights from registered origins only, on the token and revocation routes', async (t) => {
  const { ctx } = await setUp(t)
  for (const url of ['/o/token/', '/o/token', '/o/revoke_token/']) {
    const ok = await ctx.app.inject({ method: 'OPTIONS', url, headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } })
    t.equal(ok.statusCode, 204, url)
    t.equal(ok.headers['access-control-allow-origin'], ORIGIN, url)
    t.equal(ok.headers['access-control-allow-credentials'], 'true', url)
    t.match(ok.headers['access-control-allow-headers'], /content-type/, url)
  }
  const other = await ctx.app.inject({ method: 'OPTIONS', url: '/o/token/', headers: { origin: 'http://127.0.0.1:9999', 'access-control-request-method': 'POST' } })
  t.equal(other.headers['access-control-allow-origin'], undefined, 'nothing for another origin')
  t.equal(other.headers['access-control-allow-credentials'], undefined)
  const noOrigin = await ctx.app.inject({ method: 'OPTIONS', url: '/o/token/' })
  t.equal(noOrigin.headers['access-control-allow-origin'], undefined)
})

t.test('with a prefix the cookie is scoped to the prefixed route; an app may register @fastify/cors too', async (t) => {
  const store = new MemoryStore()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register((await import('@fastify/cors')).default, { origin: 'https://other.example' })
  await app.register(oauth2, { store, prefix: '/auth', routes: { token: '/o/token' } })
  await app.ready()
  await app.inject({ method: 'POST', url: '/auth/sign_up/', payload: { username: 'pony', password: 'djangsta-secret' } })
  const clientId = await cookieClient(store)
  const res = await app.inject({ method: 'POST', url: '/auth/o/token/', headers: { origin: ORIGIN }, payload: { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: clientId } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['set-cookie'], /; Path=\/auth\/o\/token;/)
  t.equal(res.headers['access-control-allow-origin'], 'https://other.example', 'the app\'s own CORS configuration governs')
})

t.test('createClient: origins checked; refreshCookie needs origins, a public client and refresh_token', async (t) => {
  const store = new MemoryStore()
  const ok = ['https://app.example', 'https://app.example:8443', 'http://127.0.0.1:5173', 'http://localhost:3000', 'http://[::1]:8080']
  const { client } = await createClient(store, { name: 'spa', type: 'public', refreshCookie: true, origins: [...ok, ok[0] as string] })
  t.same(client.origins, ok)
  t.equal(client.refreshCookie, true)
  t.same((await store.findClient(client.id))?.origins, ok)
  t.match((await createClient(store, { name: 'plain', type: 'public' })).client, { refreshCookie: false, origins: [] })
  const bad: Array<[unknown, RegExp]> = [
    ['https://app.example/', /must be exactly scheme:\/\/host\[:port\], like "https:\/\/app.example"/],
    ['https://app.example/spa', /must be exactly/],
    ['https://APP.example', /must be exactly/],
    ['https://app.example:443', /must be exactly/],
    ['http://app.example', /must be https, or http on a loopback host/],
    ['app.example', /is not an absolute URL/],
    ['https://app .example', /is not an absolute URL/],
    [42, /is not an absolute URL/]
  ]
  for (const [origin, message] of bad) {
    await t.rejects(createClient(store, { name: 'bad', type: 'public', origins: [origin as string] }), { name: 'TypeError', message })
  }
  await t.rejects(createClient(store, { name: 'x', type: 'public', refreshCookie: true }), { message: 'refreshCookie needs at least one origin' })
  await t.rejects(createClient(store, { name: 'x', type: 'confidential', refreshCookie: true, origins: [ORIGIN] }), { message: /for public clients with the refresh_token grant/ })
  await t.rejects(createClient(store, { name: 'x', type: 'public', grants: ['password'], refreshCookie: true, origins: [ORIGIN] }), { message: /for public clients with the refresh_token grant/ })
})

t.test('a hand-made cookie client without the refresh_token grant gets no cookie', async (t) => {
  const ctx = await buildApp(t)
  await ctx.signUp('pony', 'djangsta-secret')
  await ctx.store.createClient({ id: 'odd-spa', name: 'odd', type: 'public', secretHash: null, grants: ['password'], scopes: [], redirectUris: [], requireConsent: false, refreshCookie: true, origins: [ORIGIN], createdAt: T0 })
  const res = await token(ctx, { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: 'odd-spa' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['set-cookie'], undefined)
  t.equal(res.json().refresh_token, undefined)
})

forEachStore(t, async (t, open) => {
  t.test('two tabs refresh at once with the same cookie, over HTTP: both stay logged in', async (t) => {
    const store = await open(t)
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(oauth2, { store })
    app.get('/me', { onRequest: app.oauth2.authenticate() }, async (request) => request.user)
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    const clientId = await cookieClient(store)
    t.equal((await fetch(`${url}/sign_up/`, { method: 'POST', body: new URLSearchParams({ username: 'pony', password: 'djangsta-secret' }) })).status, 201)
    const post = async (body: Record<string, string>, cookie?: string): Promise<Response> => await fetch(`${url}/o/token/`, {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/json', ...(cookie === undefined ? {} : { cookie }) },
      body: JSON.stringify(body)
    })
    const login = await post({ grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: clientId })
    t.equal(login.status, 200)
    const pair = (login.headers.get('set-cookie') as string).split(';')[0] as string
    const tabs = await Promise.all([0, 1].map(async () => await post({ grant_type: 'refresh_token', client_id: clientId }, pair)))
    t.same(tabs.map((r) => r.status), [200, 200], 'both tabs refreshed (the reuse window)')
    for (const tab of tabs) {
      const body = await tab.json() as Record<string, string>
      t.equal(body.refresh_token, undefined)
      t.equal((await fetch(`${url}/me`, { headers: { authorization: `Bearer ${body.access_token as string}` } })).status, 200, 'the tab\'s access token works')
      const onward = await post({ grant_type: 'refresh_token', client_id: clientId }, (tab.headers.get('set-cookie') as string).split(';')[0])
      t.equal(onward.status, 200, 'and its cookie refreshes onward')
    }
  })
})
