/**
 * Hostile input at the authorization endpoint and the authorization_code grant: missing, repeated and
 * over-long parameters, open-redirect attempts, forged forms, codes presented by another client or with
 * another redirect URI or verifier, markup where it could land in a page. None gets a 5xx, none is
 * redirected to an unregistered URI, and nothing is stored for a refused request.
 */
import t from 'tap'
import { verifierMatches } from '../lib/routes/authorization-code-grant.js'
import { buildApp } from './fixtures/app.js'
import {
  actionOf, authorizeUrl, codeClient, codeOf, codesAndSessions, csrfOf, exchange, Jar, pkce, REDIRECT, requestParams, submit, visit
} from './fixtures/authorize.js'

const USER = { username: 'pony', password: 'djangsta-secret' }
const EVIL = 'https://evil.example/steal'

t.test('a request whose client or redirect URI is in doubt gets the HTML error page, never a redirect', async (t) => {
  const ctx = await buildApp(t)
  const clientId = await codeClient(ctx.store)
  const several = await codeClient(ctx.store, { redirectUris: [REDIRECT, 'https://app.example/cb'] })
  const { challenge } = pkce()
  const base = requestParams(clientId, challenge)
  const repeated = (name: string, value: string): string => `${authorizeUrl(base)}&${name}=${encodeURIComponent(value)}`
  const cases: Array<[string, string, RegExp]> = [
    ['no parameters', '/o/authorize/', /client_id parameter is missing/],
    ['no client_id', authorizeUrl({ ...base, client_id: undefined }), /client_id parameter is missing/],
    ['an unknown client', authorizeUrl({ ...base, client_id: 'nope' }), /client is unknown/],
    ['a repeated client_id', repeated('client_id', clientId), /client_id parameter may be given only once/],
    ['an over-long client_id', authorizeUrl({ ...base, client_id: 'x'.repeat(257) }), /client_id parameter is too long/],
    ['an unregistered redirect URI', authorizeUrl({ ...base, redirect_uri: EVIL }), /not registered/],
    ['a registered URI with a suffix', authorizeUrl({ ...base, redirect_uri: `${REDIRECT}/../evil` }), /not registered/],
    ['a registered URI with a query added', authorizeUrl({ ...base, redirect_uri: `${REDIRECT}?next=${EVIL}` }), /not registered/],
    ['a registered URI differing in case', authorizeUrl({ ...base, redirect_uri: REDIRECT.toUpperCase() }), /not registered/],
    ['a repeated redirect_uri', repeated('redirect_uri', EVIL), /redirect_uri parameter may be given only once/],
    ['an over-long redirect_uri', authorizeUrl({ ...base, redirect_uri: `${REDIRECT}?${'a'.repeat(2048)}` }), /redirect_uri parameter is too long/],
    ['no redirect_uri, several registered', authorizeUrl({ ...requestParams(several, challenge), redirect_uri: undefined }), /redirect_uri parameter is required/]
  ]
  for (const [name, url, message] of cases) {
    const res = await ctx.app.inject({ method: 'GET', url })
    t.equal(res.statusCode >= 400 && res.statusCode < 500, true, `${name}: a 4xx`)
    t.equal(res.headers.location, undefined, `${name}: no redirect`)
    t.equal(res.headers['content-type'], 'text/html; charset=utf-8')
    t.match(res.headers['content-security-policy'], /frame-ancestors 'none'/)
    t.match(res.body, message, name)
    t.notMatch(res.body, /evil\.example/, `${name}: the page does not echo the URI`)
    const posted = await ctx.app.inject({ method: 'POST', url, payload: { username: 'pony', password: 'x' } })
    t.equal(posted.statusCode, res.statusCode, `${name}: the same for a post`)
    t.equal(posted.headers.location, undefined)
  }
  const omitted = await ctx.app.inject({ method: 'GET', url: authorizeUrl({ ...base, redirect_uri: undefined }) })
  t.equal(omitted.statusCode, 200, 'no redirect_uri with one registered: that one')
  t.equal(await codesAndSessions(ctx.store), 0)
})

t.test('with a good client and redirect URI, errors go back to it with state (RFC 6749 §4.1.2.1)', async (t) => {
  const ctx = await buildApp(t)
  const clientId = await codeClient(ctx.store)
  const { challenge } = pkce()
  const base = requestParams(clientId, challenge)
  const cases: Array<[string, string, string, string | null]> = [
    ['no response_type', authorizeUrl({ ...base, response_type: undefined }), 'invalid_request', 'xyz'],
    ['response_type=token', authorizeUrl({ ...base, response_type: 'token' }), 'unsupported_response_type', 'xyz'],
    ['a repeated response_type', `${authorizeUrl(base)}&response_type=code`, 'invalid_request', 'xyz'],
    ['no code_challenge', authorizeUrl({ ...base, code_challenge: undefined }), 'invalid_request', 'xyz'],
    ['no code_challenge_method (plain by default)', authorizeUrl({ ...base, code_challenge_method: undefined }), 'invalid_request', 'xyz'],
    ['code_challenge_method=plain', authorizeUrl({ ...base, code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) }), 'invalid_request', 'xyz'],
    ['a malformed challenge', authorizeUrl({ ...base, code_challenge: 'not a challenge' }), 'invalid_request', 'xyz'],
    ['an over-long challenge', authorizeUrl({ ...base, code_challenge: 'a'.repeat(129) }), 'invalid_request', 'xyz'],
    ['an unknown scope', authorizeUrl({ ...base, scope: 'read admin' }), 'invalid_scope', 'xyz'],
    ['an empty scope', authorizeUrl({ ...base, scope: '' }), 'invalid_scope', 'xyz'],
    ['markup in scope', authorizeUrl({ ...base, scope: '<script>alert(1)</script>' }), 'invalid_scope', 'xyz'],
    ['a repeated state', `${authorizeUrl(base)}&state=other`, 'invalid_request', null],
    ['an over-long state', authorizeUrl({ ...base, state: 's'.repeat(1025) }), 'invalid_request', null]
  ]
  for (const [name, url, error, state] of cases) {
    const res = await ctx.app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 302, name)
    const posted = await ctx.app.inject({ method: 'POST', url, payload: { username: 'pony', password: 'x' } })
    t.equal(posted.statusCode, 303, `${name}: a post is sent back too`)
    t.equal(new URL(posted.headers.location as string).searchParams.get('error'), error)
    const location = new URL(res.headers.location as string)
    t.equal(`${location.origin}${location.pathname}`, REDIRECT, `${name}: to the registered URI`)
    t.equal(location.searchParams.get('error'), error, name)
    t.equal(location.searchParams.get('state'), state, `${name}: state`)
    t.equal(location.searchParams.get('code'), null)
    t.match(location.searchParams.get('error_description'), /\S/)
  }
  const password = await codeClient(ctx.store)
  await ctx.store.deleteClient(password)
  const { client } = await import('../lib/index.js').then(async ({ createClient }) =>
    await createClient(ctx.store, { name: 'pw', type: 'public', redirectUris: [REDIRECT] }))
  const unauthorized = await ctx.app.inject({ method: 'GET', url: authorizeUrl(requestParams(client.id, challenge)) })
  t.equal(new URL(unauthorized.headers.location as string).searchParams.get('error'), 'unauthorized_client')
  const narrow = await codeClient(ctx.store, { scopes: ['admin'] })
  const none = await ctx.app.inject({ method: 'GET', url: authorizeUrl(requestParams(narrow, challenge)) })
  t.equal(new URL(none.headers.location as string).searchParams.get('error'), 'invalid_scope', 'no usable default scope')
  t.equal(await codesAndSessions(ctx.store), 0)
})

t.test('markup in state and username is escaped on the pages', async (t) => {
  const ctx = await buildApp(t)
  t.equal((await ctx.signUp(USER.username, USER.password)).statusCode, 201)
  const clientId = await codeClient(ctx.store)
  const jar = new Jar()
  const state = '"><script>alert(1)</script>'
  const page = await visit(ctx.app, jar, authorizeUrl(requestParams(clientId, pkce().challenge, { state })))
  t.equal(page.statusCode, 200)
  t.notMatch(page.body, /<script/)
  t.match(page.body, /&quot;&gt;&lt;script&gt;|%22%3E%3Cscript%3E/)
  const again = await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), username: '<img src=x onerror=alert(1)>', password: 'wrong-password' })
  t.equal(again.statusCode, 400)
  t.notMatch(again.body, /<img/)
  t.match(again.body, /value="&lt;img src=x onerror=alert\(1\)&gt;"/)
  const back = await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), ...USER })
  t.equal(codeOf(back).state, state, 'state goes back to the client as it came')
})

t.test('a form post without, or with a wrong, CSRF token is refused; nothing stored, nothing counted', async (t) => {
  const ctx = await buildApp(t, { throttle: { loginFailuresPerUser: 1 } })
  t.equal((await ctx.signUp(USER.username, USER.password)).statusCode, 201)
  const clientId = await codeClient(ctx.store)
  const jar = new Jar()
  const page = await visit(ctx.app, jar, authorizeUrl(requestParams(clientId, pkce().challenge)))
  const action = actionOf(page.body)
  const token = csrfOf(page.body)
  const noCookie = new Jar()
  const cases: Array<[string, Jar, Record<string, string>]> = [
    ['no token', jar, { ...USER }],
    ['an empty token', jar, { csrf_token: '', ...USER }],
    ['a wrong token', jar, { csrf_token: token.replace(/^./, (c) => c === 'a' ? 'b' : 'a'), ...USER }],
    ['a short token', jar, { csrf_token: 'abc', ...USER }],
    ['the token without its cookie', noCookie, { csrf_token: token, ...USER }]
  ]
  for (const [name, from, fields] of cases) {
    const res = await submit(ctx.app, from, action, fields)
    t.equal(res.statusCode, 403, name)
    t.match(res.body, /form expired/)
    t.equal(res.cookies.find((c) => c.name === 'oauth2_session'), undefined)
  }
  const cookieOnly = new Jar()
  cookieOnly.cookies.set('oauth2_csrf', 'not-a-token')
  t.equal((await submit(ctx.app, cookieOnly, action, { csrf_token: 'not-a-token', ...USER })).statusCode, 403, 'a cookie that is not ours')
  const repeated = await ctx.app.inject({
    method: 'POST',
    url: action,
    payload: `csrf_token=${token}&csrf_token=${token}&username=pony&password=${USER.password}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header }
  })
  t.equal(repeated.statusCode, 403, 'a repeated token')
  const json = await ctx.app.inject({ method: 'POST', url: action, payload: { csrf_token: token, ...USER }, headers: { cookie: jar.header } })
  t.equal(json.statusCode, 303, 'with the token, a JSON post (the app parses JSON) is as good as the form')
  t.equal(await codesAndSessions(ctx.store), 2, 'only the last, good post stored a session and a code')
  const fresh = await visit(ctx.app, new Jar(), authorizeUrl(requestParams(clientId, pkce().challenge)))
  t.equal(fresh.statusCode, 200, 'the refused posts were not counted as failed logins')
  const oversized = await ctx.app.inject({
    method: 'POST', url: action, payload: `csrf_token=${'a'.repeat(20_000)}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header }
  })
  t.equal(oversized.statusCode, 413)
  t.match(oversized.headers['content-type'], /text\/html/)
  const plain = await ctx.app.inject({ method: 'POST', url: action, payload: 'hello', headers: { 'content-type': 'text/plain', cookie: jar.header } })
  t.equal(plain.statusCode, 403, 'a body that is not a form carries no token')
})

t.test('the token grant: each binding checked; a refusal leaves the code usable', async (t) => {
  const ctx = await buildApp(t)
  t.equal((await ctx.signUp(USER.username, USER.password)).statusCode, 201)
  const clientId = await codeClient(ctx.store, { redirectUris: [REDIRECT, 'https://app.example/cb'] })
  const otherId = await codeClient(ctx.store)
  const { verifier, challenge } = pkce()
  const jar = new Jar()
  const page = await visit(ctx.app, jar, authorizeUrl(requestParams(clientId, challenge)))
  const { code } = codeOf(await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), ...USER }))
  const good = { code, code_verifier: verifier, client_id: clientId }
  const cases: Array<[string, Record<string, string>, string]> = [
    ['no code', { ...good, code: '' }, 'invalid_request'],
    ['no code_verifier', { ...good, code_verifier: '' }, 'invalid_request'],
    ['no redirect_uri', { ...good, redirect_uri: '' }, 'invalid_request'],
    ['an unknown code', { ...good, code: 'x'.repeat(43) }, 'invalid_grant'],
    ['another client', { ...good, client_id: otherId }, 'invalid_grant'],
    ['another registered redirect URI', { ...good, redirect_uri: 'https://app.example/cb' }, 'invalid_grant'],
    ['a wrong verifier', { ...good, code_verifier: pkce().verifier }, 'invalid_grant'],
    ['a malformed verifier', { ...good, code_verifier: 'short' }, 'invalid_grant'],
    ['the challenge as verifier', { ...good, code_verifier: challenge }, 'invalid_grant'],
    ['a verifier with markup', { ...good, code_verifier: `<b>${'a'.repeat(50)}</b>` }, 'invalid_grant'],
    ['an over-long verifier', { ...good, code_verifier: 'a'.repeat(129) }, 'invalid_request']
  ]
  for (const [name, fields, error] of cases) {
    const res = await exchange(ctx.app, fields)
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().error, error, name)
    t.notMatch(res.body, new RegExp(verifier), 'no secret echoed')
  }
  const notAllowed = await ctx.app.inject({
    method: 'POST',
    url: '/o/token/',
    payload: { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: ctx.publicId }
  })
  t.equal(notAllowed.json().error, 'unauthorized_client', 'a client without the grant')
  const res = await exchange(ctx.app, good)
  t.equal(res.statusCode, 200, 'the rightful exchange still works')
  t.equal((await exchange(ctx.app, good)).json().error, 'invalid_grant')
})

t.test('a code of a user deleted since is refused', async (t) => {
  const users = new Map([['u1', { id: 'u1', username: 'pony' }]])
  const ctx = await buildApp(t, {
    users: {
      findByUsername: async (username) => [...users.values()].find((u) => u.username === username) ?? null,
      // Plain JavaScript may answer synchronously: the plugin takes a value as well as a promise.
      findById: ((id: string) => users.get(id) ?? null) as unknown as (id: string) => Promise<{ id: string, username: string } | null>,
      verifyPassword: async (_user, password) => password === USER.password
    }
  })
  const clientId = await codeClient(ctx.store)
  const { verifier, challenge } = pkce()
  const jar = new Jar()
  const page = await visit(ctx.app, jar, authorizeUrl(requestParams(clientId, challenge)))
  const back = await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), ...USER })
  t.equal(back.statusCode, 303)
  users.clear()
  t.equal((await exchange(ctx.app, { code: codeOf(back).code, code_verifier: verifier, client_id: clientId })).json().error, 'invalid_grant')
  t.equal((await visit(ctx.app, jar, authorizeUrl(requestParams(clientId, challenge)))).statusCode, 200, 'and the session is none')
})

t.test('a store failure is a 503 page, a bug a 500 page, without details', async (t) => {
  const ctx = await buildApp(t)
  const clientId = await codeClient(ctx.store)
  const url = authorizeUrl(requestParams(clientId, pkce().challenge))
  const original = ctx.store.findClient.bind(ctx.store)
  ctx.store.findClient = async () => { throw new Error('connection refused') }
  const down = await ctx.app.inject({ method: 'GET', url })
  t.equal(down.statusCode, 503)
  t.equal(down.headers['retry-after'], '1')
  t.match(down.body, /temporarily_unavailable/)
  t.notMatch(down.body, /connection refused/)
  ctx.store.findClient = async () => { throw new TypeError('a bug') }
  const bug = await ctx.app.inject({ method: 'GET', url })
  t.equal(bug.statusCode, 500)
  t.notMatch(bug.body, /a bug/)
  ctx.store.findClient = original

  t.equal((await ctx.signUp(USER.username, USER.password)).statusCode, 201)
  const jar = new Jar()
  const page = await visit(ctx.app, jar, url)
  ctx.store.findUserByUsernameKey = async () => { throw new Error('connection reset') }
  const login = await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), ...USER })
  t.equal(login.statusCode, 503, 'a store failing during the login: the 503 page')
  t.notMatch(login.body, /connection reset|djangsta/)
})

t.test('a code deleted while being exchanged is invalid_grant; a verifier is checked against its challenge\'s digest', async (t) => {
  const ctx = await buildApp(t)
  t.equal((await ctx.signUp(USER.username, USER.password)).statusCode, 201)
  const clientId = await codeClient(ctx.store)
  const { verifier, challenge } = pkce()
  const jar = new Jar()
  const page = await visit(ctx.app, jar, authorizeUrl(requestParams(clientId, challenge)))
  const { code } = codeOf(await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), ...USER }))
  // `tokens clear` (or another instance) deletes the code between the exchange's read and its redemption.
  ctx.store.redeemAuthorizationCode = async () => await codesAndSessions(ctx.store) < 0
  const res = await exchange(ctx.app, { code, code_verifier: verifier, client_id: clientId })
  t.equal(res.json().error, 'invalid_grant')

  t.equal(verifierMatches(verifier, challenge), true)
  t.equal(verifierMatches(verifier, challenge.slice(0, 20)), false, 'a challenge of another length')
  t.equal(verifierMatches(`${verifier}é`, challenge), false, 'a verifier outside RFC 7636\'s characters')
})
