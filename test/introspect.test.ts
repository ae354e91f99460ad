/** RFC 7662 token introspection: `POST /o/introspect/`, for confidential clients, on every store. */
import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { hashToken } from '../lib/crypto/tokens.js'
import type { OAuth2Store } from '../lib/index.js'
import { basic, buildApp, loggedIn, T0, type TestApp } from './fixtures/app.js'
import { forEachStore } from './fixtures/stores.js'

const FORM = 'application/x-www-form-urlencoded'

/** An introspection request authenticated as the confidential client via Basic, unless `headers` says otherwise. */
function introspect (ctx: TestApp, params: Record<string, string>, headers?: Record<string, string>, url = '/o/introspect/'): Promise<LightMyRequestResponse> {
  const auth = headers ?? { authorization: basic(ctx.confidentialId, ctx.confidentialSecret) }
  return ctx.app.inject({ method: 'POST', url, payload: new URLSearchParams(params).toString(), headers: { 'content-type': FORM, ...auth } })
}

/** RFC 7662 §2.2: an inactive token gets `{"active": false}` and nothing more, uncached. */
function assertInactive (t: Test, res: LightMyRequestResponse, label: string): void {
  t.equal(res.statusCode, 200, `${label}: 200`)
  t.same(res.json(), { active: false }, `${label}: only active false`)
  t.equal(res.headers['cache-control'], 'no-store', `${label}: cache-control`)
  t.match(res.headers['content-type'], /^application\/json/)
}

/** A store whose per-request lookup no longer finds the token's user (as after the user was deleted). */
function withoutUsers (store: OAuth2Store): OAuth2Store {
  return new Proxy(store, {
    get (target, key) {
      if (key !== 'findByAccessTokenHash') {
        // Bound to the store itself: its private fields are not reachable through the proxy.
        const value: unknown = Reflect.get(target, key)
        return typeof value === 'function' ? value.bind(target) : value
      }
      return async (hash: string) => {
        const found = await target.findByAccessTokenHash(hash)
        return found === null ? null : { ...found, user: null }
      }
    }
  })
}

forEachStore(t, async (t, open) => {
  const build = async (t: Test, options = {}): Promise<TestApp> => buildApp(t, { store: await open(t), ...options })

  t.test('RFC 7662 §2.2: a live access token is described: active, scope, client_id, username, exp, iat, token_type', async (t) => {
    const ctx = await build(t)
    await ctx.signUp('pony', 'djangsta-secret')
    ctx.advance(0.5) // issued half a second past T0: iat and exp are whole Unix seconds
    const tokens = (await ctx.login('pony', 'djangsta-secret', { scope: 'read' })).json()
    const res = await introspect(ctx, { token: tokens.access_token })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['cache-control'], 'no-store')
    t.equal(res.headers.pragma, 'no-cache')
    t.same(res.json(), {
      active: true,
      scope: 'read',
      client_id: ctx.publicId,
      username: 'pony',
      exp: T0 / 1000 + 3600,
      iat: T0 / 1000,
      token_type: 'Bearer'
    })
    t.notMatch(res.body, tokens.access_token, 'the token is not echoed')

    // Body credentials (client_secret_post) work too, and the hint is ignored.
    const post = await introspect(ctx, {
      token: tokens.access_token,
      token_type_hint: 'refresh_token',
      client_id: ctx.confidentialId,
      client_secret: ctx.confidentialSecret
    }, {})
    t.equal(post.statusCode, 200)
    t.equal(post.json().active, true)
    const json = await ctx.app.inject({
      method: 'POST',
      url: '/o/introspect',
      headers: { authorization: basic(ctx.confidentialId, ctx.confidentialSecret) },
      payload: { token: tokens.access_token, token_type_hint: 'unknown-hint' }
    })
    t.equal(json.statusCode, 200, 'JSON body, without the trailing slash')
    t.equal(json.json().username, 'pony')
  })

  t.test('RFC 7662 §2.2: a client-credentials token has no username', async (t) => {
    const ctx = await build(t, { scopes: ['read', 'write', 'admin'], defaultScopes: ['read'] })
    const issued = await ctx.app.inject({
      method: 'POST',
      url: '/o/token/',
      headers: { 'content-type': FORM, authorization: basic(ctx.confidentialId, ctx.confidentialSecret) },
      payload: 'grant_type=client_credentials&scope=admin read'
    })
    const res = await introspect(ctx, { token: issued.json().access_token })
    t.same(res.json(), {
      active: true,
      scope: 'admin read',
      client_id: ctx.confidentialId,
      exp: T0 / 1000 + 3600,
      iat: T0 / 1000,
      token_type: 'Bearer'
    })
  })

  t.test('RFC 7662 §2.2: expired, revoked, rotated, refresh, unknown and missing tokens are {"active": false}', async (t) => {
    const ctx = await build(t, { accessTokenTtl: 60 })
    const first = await loggedIn(ctx)
    const second = (await ctx.refresh(first.refresh_token)).json()
    const toRevoke = (await ctx.login('pony', 'djangsta-secret')).json()
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/o/revoke_token/',
      payload: { token: toRevoke.access_token, client_id: ctx.publicId }
    })
    t.equal(res.statusCode, 200)

    assertInactive(t, await introspect(ctx, { token: first.access_token }), 'rotated')
    assertInactive(t, await introspect(ctx, { token: toRevoke.access_token }), 'revoked')
    assertInactive(t, await introspect(ctx, { token: second.refresh_token }), 'a live refresh token')
    assertInactive(t, await introspect(ctx, { token: second.refresh_token, token_type_hint: 'refresh_token' }), 'a refresh token, hinted')
    assertInactive(t, await introspect(ctx, { token: 'no-such-token' }), 'unknown')
    assertInactive(t, await introspect(ctx, { token: '' }), 'empty')
    assertInactive(t, await introspect(ctx, {}), 'missing')
    assertInactive(t, await introspect(ctx, { token_type_hint: 'access_token' }), 'missing, with a hint')

    ctx.advance(59)
    t.equal((await introspect(ctx, { token: second.access_token })).json().active, true, 'live until it expires')
    ctx.advance(1)
    assertInactive(t, await introspect(ctx, { token: second.access_token }), 'expired')
  })

  t.test('RFC 7662 §2.2: a token whose user is gone is {"active": false}', async (t) => {
    const store = await open(t)
    const ctx = await buildApp(t, { store })
    const tokens = await loggedIn(ctx)
    t.equal((await introspect(ctx, { token: tokens.access_token })).json().active, true)
    const gone = await buildApp(t, { store: withoutUsers(store) })
    const res = await introspect(gone, { token: tokens.access_token }, { authorization: basic(ctx.confidentialId, ctx.confidentialSecret) })
    assertInactive(t, res, 'user gone')
  })

  t.test("RFC 7662 §2.2: with the app's own users, the username and the user's existence come from them", async (t) => {
    const people = new Map([['u-1', { id: 'u-1', username: 'Pony From The App' }]])
    const ctx = await build(t, {
      users: {
        findByUsername: async () => null,
        findById: async (id: string) => people.get(id) ?? null,
        verifyPassword: async () => false
      },
      routes: { signUp: false }
    })
    const issued = await ctx.app.inject({
      method: 'POST',
      url: '/o/token/',
      headers: { 'content-type': FORM, authorization: basic(ctx.confidentialId, ctx.confidentialSecret) },
      payload: 'grant_type=client_credentials'
    })
    const record = await ctx.store.findByAccessTokenHash(hashToken(issued.json().access_token))
    // A user token of the app's user u-1, written as the password grant would. (The store gets a user row
    // of that id too, with another name: KyselyStore's tokens reference its users table.)
    await ctx.store.createUser({ id: 'u-1', username: 'store-pony', usernameKey: 'store-pony', passwordHash: 'x', createdAt: T0 })
    const accessToken = 'app-user-access-token'
    await ctx.store.createToken({
      ...record!.token, id: randomUUID(), familyId: randomUUID(), parentId: null, userId: 'u-1',
      accessTokenHash: hashToken(accessToken), refreshTokenHash: null, refreshExpiresAt: null
    })
    const res = await introspect(ctx, { token: accessToken })
    t.match(res.json(), { active: true, username: 'Pony From The App' })
    people.delete('u-1')
    assertInactive(t, await introspect(ctx, { token: accessToken }), 'the app no longer knows the user (the store row does not count)')
  })

  t.test('RFC 7662 §2.1/§2.3: only an authenticated confidential client may ask; otherwise 401 invalid_client, no "active"', async (t) => {
    const ctx = await build(t)
    const tokens = await loggedIn(ctx)
    const token = tokens.access_token
    const cases: Array<[string, Record<string, string>, Record<string, string>]> = [
      ['no client at all', { token }, {}],
      ['a public client by client_id', { token, client_id: ctx.publicId }, {}],
      ['a public client via Basic with an empty secret', { token }, { authorization: basic(ctx.publicId, '') }],
      ['the client the token was issued to (public)', { token, client_id: ctx.publicId, client_secret: '' }, {}],
      ['unknown client', { token, client_id: 'nobody', client_secret: 'x' }, {}],
      ['confidential client without its secret', { token, client_id: ctx.confidentialId }, {}],
      ['wrong secret in the body', { token, client_id: ctx.confidentialId, client_secret: 'wrong' }, {}],
      ['wrong secret via Basic', { token }, { authorization: basic(ctx.confidentialId, 'wrong') }],
      ['malformed Basic', { token }, { authorization: 'Basic !!!' }],
      ["a user's bearer token", { token }, { authorization: `Bearer ${token}` }]
    ]
    const bodies = new Set<string>()
    for (const [label, params, headers] of cases) {
      const res = await introspect(ctx, params, headers)
      t.equal(res.statusCode, 401, label)
      t.equal(res.headers['www-authenticate'], 'Basic realm="api"', `${label}: Basic challenge`)
      t.equal(res.headers['cache-control'], 'no-store', `${label}: cache-control`)
      const body = res.json()
      t.equal(body.error, 'invalid_client', label)
      t.notOk('active' in body, `${label}: no active field`)
      t.notMatch(res.body, token, `${label}: the token is not echoed`)
      bodies.add(res.body)
    }
    t.equal(bodies.size, 2, 'one answer for every failure (and one for a malformed Basic header)')
    t.equal((await ctx.me(token)).statusCode, 200, 'the token is untouched')
  })

  t.test('parameters in the query string are refused; a token that is not a string is bad input', async (t) => {
    const ctx = await build(t)
    const tokens = await loggedIn(ctx)
    const query = await introspect(ctx, {}, undefined, `/o/introspect/?token=${tokens.access_token}`)
    t.equal(query.statusCode, 400)
    t.equal(query.json().error, 'invalid_request')
    const wrongType = await ctx.app.inject({
      method: 'POST',
      url: '/o/introspect/',
      headers: { authorization: basic(ctx.confidentialId, ctx.confidentialSecret) },
      payload: { token: { $ne: null } }
    })
    t.equal(wrongType.statusCode, 400)
    t.equal(wrongType.json().error, 'invalid_request')
    t.notOk('active' in wrongType.json())
  })

  t.test('routes.introspect: a custom path answers with and without its trailing slash; false turns it off', async (t) => {
    const custom = await build(t, { routes: { introspect: '/check' } })
    const tokens = await loggedIn(custom)
    for (const url of ['/check', '/check/']) {
      t.equal((await introspect(custom, { token: tokens.access_token }, undefined, url)).json().active, true, url)
    }
    t.equal((await introspect(custom, { token: tokens.access_token })).statusCode, 404, 'the default path is gone')

    const off = await build(t, { routes: { introspect: false } })
    const kept = await loggedIn(off)
    for (const url of ['/o/introspect/', '/o/introspect']) {
      t.equal((await introspect(off, { token: kept.access_token }, undefined, url)).statusCode, 404, url)
    }
  })
})
