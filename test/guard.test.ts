/** Request decoration and the bearer guard (RFC 6750 §2.1, §3, §3.1). */
import t from 'tap'
import { hashToken } from '../lib/crypto/tokens.js'
import { basic, buildApp, loggedIn } from './fixtures/app.js'

t.test('a valid token decorates request.user and request.oauth', async (t) => {
  const ctx = await buildApp(t)
  const tokens = await loggedIn(ctx)
  const res = await ctx.me(tokens.access_token)
  t.equal(res.statusCode, 200)
  const { user, oauth } = res.json()
  t.match(user, { username: 'pony' })
  t.same(Object.keys(user).sort(), ['id', 'username'], 'no password hash on request.user')
  t.same(oauth.user, user)
  t.equal(oauth.clientId, ctx.publicId)
  t.same(oauth.scopes, ['read', 'write'])
  t.equal(new Date(oauth.expiresAt).getTime(), Date.UTC(2026, 5, 1) + 3600_000)
})

t.test('the scheme is case-insensitive', async (t) => {
  const ctx = await buildApp(t)
  const tokens = await loggedIn(ctx)
  for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
    const res = await ctx.app.inject({ url: '/me', headers: { authorization: `${scheme} ${tokens.access_token}` } })
    t.equal(res.statusCode, 200, scheme)
  }
})

t.test('no token: 401 with a bare Bearer challenge (RFC 6750 §3.1: no error code)', async (t) => {
  const ctx = await buildApp(t)
  for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'Token abc' }]) {
    const res = await ctx.app.inject({ url: '/me', headers })
    t.equal(res.statusCode, 401)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="api"')
    t.same(res.json(), { error: 'unauthorized', error_description: 'Authentication credentials were not provided.' })
  }
})

t.test('a bad, malformed, refresh, revoked, expired or rotated token: 401 invalid_token', async (t) => {
  const ctx = await buildApp(t, { accessTokenTtl: 60, realm: 'my app' })
  const tokens = await loggedIn(ctx)
  const expectInvalid = async (authorization: string, description: string, name: string): Promise<void> => {
    const res = await ctx.app.inject({ url: '/me', headers: { authorization } })
    t.equal(res.statusCode, 401, name)
    t.equal(res.headers['www-authenticate'], `Bearer realm="my app", error="invalid_token", error_description="${description}"`, name)
    t.same(res.json(), { error: 'invalid_token', error_description: description }, name)
  }
  await expectInvalid('Bearer not-a-real-token', 'The access token is invalid.', 'unknown')
  await expectInvalid(`Bearer ${tokens.refresh_token}`, 'The access token is invalid.', 'a refresh token')
  await expectInvalid('Bearer', 'The access token is malformed.', 'empty')
  await expectInvalid('Bearer a b c', 'The access token is malformed.', 'spaces')
  await expectInvalid(`Bearer ${'a'.repeat(5000)}`, 'The access token is malformed.', 'huge')
  await expectInvalid('Bearer tok€n', 'The access token is malformed.', 'non-ASCII')

  const rotated = await ctx.refresh(tokens.refresh_token)
  await expectInvalid(`Bearer ${tokens.access_token}`, 'The access token is invalid.', 'rotated')
  const fresh = rotated.json()
  ctx.advance(61)
  await expectInvalid(`Bearer ${fresh.access_token}`, 'The access token has expired.', 'expired')

  const again = (await ctx.login('pony', 'djangsta-secret')).json()
  const record = await ctx.store.findByAccessTokenHash(hashToken(again.access_token))
  await ctx.store.revokeToken(record!.token.id, Date.now())
  await expectInvalid(`Bearer ${again.access_token}`, 'The access token is invalid.', 'revoked')
})

t.test('app.oauth2.revokeUserTokens logs a user out everywhere', async (t) => {
  const ctx = await buildApp(t)
  const a = await loggedIn(ctx)
  const b = (await ctx.login('pony', 'djangsta-secret')).json()
  const user = await ctx.store.findUserByUsernameKey('pony')
  t.equal(await ctx.app.oauth2.revokeUserTokens(user!.id), 2)
  t.equal((await ctx.me(a.access_token)).statusCode, 401)
  t.equal((await ctx.me(b.access_token)).statusCode, 401)
  t.equal((await ctx.refresh(b.refresh_token)).statusCode, 400)
})

t.test('scopes: a missing scope is 403 insufficient_scope naming the scope', async (t) => {
  const ctx = await buildApp(t, {}, undefined, (app) => {
    app.register(async (scoped) => {
      scoped.addHook('onRequest', scoped.oauth2.authenticate({ scopes: ['write'] }))
      scoped.get('/write-thing', async (request) => ({ scopes: request.oauth?.scopes }))
    })
  })
  await ctx.signUp('pony', 'djangsta-secret')
  const readOnly = (await ctx.login('pony', 'djangsta-secret', { scope: 'read' })).json()
  const both = (await ctx.login('pony', 'djangsta-secret')).json()
  const denied = await ctx.app.inject({ url: '/write-thing', headers: { authorization: `Bearer ${readOnly.access_token}` } })
  t.equal(denied.statusCode, 403)
  t.equal(denied.headers['www-authenticate'], 'Bearer realm="api", error="insufficient_scope", error_description="The access token lacks a required scope.", scope="write"')
  t.equal(denied.json().error, 'insufficient_scope')
  const allowed = await ctx.app.inject({ url: '/write-thing', headers: { authorization: `Bearer ${both.access_token}` } })
  t.equal(allowed.statusCode, 200)
  t.same(allowed.json(), { scopes: ['read', 'write'] })
  t.equal((await ctx.me(readOnly.access_token)).statusCode, 200, '/me asks for no scope')
})

t.test('a guard on a whole encapsulated context; routes outside it do no token work', async (t) => {
  let lookups = 0
  const ctx = await buildApp(t, {}, undefined, (app) => {
    app.register(async (api) => {
      api.addHook('onRequest', api.oauth2.authenticate())
      api.get('/api/whoami', async (request) => request.user)
    }, { prefix: '' })
    app.get('/open', async (request) => ({ oauth: request.oauth, user: request.user }))
  })
  const original = ctx.store.findByAccessTokenHash.bind(ctx.store)
  ctx.store.findByAccessTokenHash = async (hash) => { lookups++; return original(hash) }
  const tokens = await loggedIn(ctx)
  const open = await ctx.app.inject({ url: '/open', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.same(open.json(), { oauth: null, user: null }, 'undecorated without a guard')
  t.equal(lookups, 0, 'no lookup on an unguarded route')
  t.equal((await ctx.app.inject({ url: '/api/whoami' })).statusCode, 401)
  const who = await ctx.app.inject({ url: '/api/whoami', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.equal(who.json().username, 'pony')
  t.equal(lookups, 1)
})

t.test('an optional guard lets anonymous requests through and still refuses bad tokens', async (t) => {
  const ctx = await buildApp(t, {}, undefined, (app) => {
    app.get('/maybe', { onRequest: app.oauth2.authenticate({ optional: true }) }, async (request) => ({ user: request.user }))
  })
  const tokens = await loggedIn(ctx)
  t.same((await ctx.app.inject({ url: '/maybe' })).json(), { user: null })
  const known = await ctx.app.inject({ url: '/maybe', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.equal(known.json().user.username, 'pony')
  t.equal((await ctx.app.inject({ url: '/maybe', headers: { authorization: 'Bearer nope' } })).statusCode, 401)
})

t.test('a client-credentials token: request.user is null, request.oauth.clientId is set, no refresh token', async (t) => {
  const ctx = await buildApp(t)
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/o/token/',
    headers: { authorization: basic(ctx.confidentialId, ctx.confidentialSecret) },
    payload: { grant_type: 'client_credentials', scope: 'read' }
  })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.refresh_token, undefined)
  t.equal(body.scope, 'read')
  const me = await ctx.me(body.access_token)
  t.equal(me.statusCode, 200)
  t.equal(me.json().user, null)
  t.equal(me.json().oauth.clientId, ctx.confidentialId)
})

t.test('a token whose user was deleted is invalid', async (t) => {
  const ctx = await buildApp(t)
  const tokens = await loggedIn(ctx)
  const original = ctx.store.findByAccessTokenHash.bind(ctx.store)
  ctx.store.findByAccessTokenHash = async (hash) => {
    const found = await original(hash)
    return found === null ? null : { ...found, user: null }
  }
  t.equal((await ctx.me(tokens.access_token)).statusCode, 401)
})

t.test('with the token cache on, a client-credentials token is served from the cache with no user', async (t) => {
  const ctx = await buildApp(t, { tokenCache: true })
  let lookups = 0
  const original = ctx.store.findByAccessTokenHash.bind(ctx.store)
  ctx.store.findByAccessTokenHash = async (hash) => { lookups++; return await original(hash) }
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/o/token/',
    headers: { authorization: basic(ctx.confidentialId, ctx.confidentialSecret) },
    payload: { grant_type: 'client_credentials' }
  })
  const token = res.json().access_token
  for (let i = 0; i < 2; i++) {
    const me = await ctx.me(token)
    t.equal(me.statusCode, 200)
    t.equal(me.json().user, null)
    t.equal(me.json().oauth.clientId, ctx.confidentialId)
  }
  t.equal(lookups, 1, 'the second request was a cache hit')
})
