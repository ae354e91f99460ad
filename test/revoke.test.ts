/** RFC 7009 token revocation: `POST /o/revoke_token/`, on every store. */
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { hashToken } from '../lib/crypto/tokens.js'
import type { AccessTokenRecord } from '../lib/index.js'
import { basic, buildApp, loggedIn, T0, type TestApp } from './fixtures/app.js'
import { forEachStore } from './fixtures/stores.js'

const FORM = 'application/x-www-form-urlencoded'

/** A form-encoded revocation request; the public client identifies itself unless `params` says otherwise. */
function revoke (ctx: TestApp, params: Record<string, string>, headers: Record<string, string> = {}, url = '/o/revoke_token/'): Promise<LightMyRequestResponse> {
  return ctx.app.inject({ method: 'POST', url, payload: new URLSearchParams(params).toString(), headers: { 'content-type': FORM, ...headers } })
}

/** What the store holds for an access token. */
async function record (ctx: TestApp, accessToken: string): Promise<AccessTokenRecord> {
  const found = await ctx.store.findByAccessTokenHash(hashToken(accessToken))
  if (found === null) throw new Error('no such token')
  return found.token
}

/**
 * RFC 7009 §2.2: 200, whatever became of the token, and (RFC 6749 §5.1 style) no caching. The body is
 * ignored by the RFC but parsed by clients such as simple-oauth2: `{}` as JSON, the same for every outcome.
 */
function assertRevokedAnswer (t: Test, res: LightMyRequestResponse, label = 'answer'): void {
  t.equal(res.statusCode, 200, `${label}: 200`)
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8', `${label}: JSON`)
  t.equal(res.body, '{}', `${label}: an empty JSON object`)
  t.equal(res.headers['cache-control'], 'no-store', `${label}: cache-control`)
  t.equal(res.headers.pragma, 'no-cache', `${label}: pragma`)
}

forEachStore(t, async (t, open) => {
  const build = async (t: Test, options = {}): Promise<TestApp> => buildApp(t, { store: await open(t), ...options })

  t.test('RFC 7009 §2.1: revoking an access token kills it and its refresh token (public client by client_id)', async (t) => {
    const ctx = await build(t)
    const tokens = await loggedIn(ctx)
    const other = (await ctx.login('pony', 'djangsta-secret')).json()
    ctx.advance(5)
    const res = await revoke(ctx, { token: tokens.access_token, client_id: ctx.publicId })
    assertRevokedAnswer(t, res)

    t.equal((await ctx.me(tokens.access_token)).statusCode, 401, 'the access token is dead')
    const refresh = await ctx.refresh(tokens.refresh_token)
    t.equal(refresh.statusCode, 400, 'its refresh token is dead too')
    t.equal(refresh.json().error, 'invalid_grant')
    t.equal((await record(ctx, tokens.access_token)).revokedAt, T0 + 5000, 'revoked at the plugin clock')
    t.equal((await ctx.me(other.access_token)).statusCode, 200, 'another login is untouched')
    t.equal((await record(ctx, other.access_token)).revokedAt, null)
  })

  t.test('RFC 7009 §2.1: revoking a refresh token ends its whole family; the newest access token is 401', async (t) => {
    const ctx = await build(t)
    const first = await loggedIn(ctx)
    const other = (await ctx.login('pony', 'djangsta-secret')).json()
    const second = (await ctx.refresh(first.refresh_token)).json()
    t.equal((await ctx.me(second.access_token)).statusCode, 200)

    const res = await revoke(ctx, { token: second.refresh_token, token_type_hint: 'refresh_token', client_id: ctx.publicId })
    assertRevokedAnswer(t, res)
    t.equal((await ctx.me(second.access_token)).statusCode, 401, "the family's newest access token is dead")
    const refresh = await ctx.refresh(second.refresh_token)
    t.equal(refresh.statusCode, 400)
    t.equal(refresh.json().error, 'invalid_grant')
    t.not((await record(ctx, first.access_token)).revokedAt, null, 'the rotated parent is marked revoked too')
    t.not((await record(ctx, second.access_token)).revokedAt, null)
    t.equal((await ctx.me(other.access_token)).statusCode, 200, 'another login (another family) is untouched')
    t.equal((await ctx.refresh(other.refresh_token)).statusCode, 200)
  })

  t.test('RFC 7009 §2.1: an already-rotated refresh token revoked ends the family, as a replay would', async (t) => {
    const ctx = await build(t)
    const first = await loggedIn(ctx)
    const second = (await ctx.refresh(first.refresh_token)).json()
    assertRevokedAnswer(t, await revoke(ctx, { token: first.refresh_token, client_id: ctx.publicId }))
    t.equal((await ctx.me(second.access_token)).statusCode, 401)
    t.equal((await ctx.refresh(second.refresh_token)).statusCode, 400)
  })

  t.test('RFC 7009 §2.1: token_type_hint is not trusted; a wrong or unknown hint still revokes', async (t) => {
    const ctx = await build(t)
    const cases: Array<[kind: 'access_token' | 'refresh_token', hint: string | undefined]> = [
      ['access_token', 'refresh_token'], ['refresh_token', 'access_token'],
      ['access_token', 'foo'], ['refresh_token', 'foo'], ['refresh_token', undefined], ['access_token', '']
    ]
    await ctx.signUp('pony', 'djangsta-secret')
    for (const [kind, hint] of cases) {
      const label = `${kind} with hint ${String(hint)}`
      const tokens = (await ctx.login('pony', 'djangsta-secret')).json()
      const params: Record<string, string> = { token: tokens[kind], client_id: ctx.publicId }
      if (hint !== undefined) params.token_type_hint = hint
      assertRevokedAnswer(t, await revoke(ctx, params), label)
      t.equal((await ctx.me(tokens.access_token)).statusCode, 401, `${label}: access token dead`)
      t.equal((await ctx.refresh(tokens.refresh_token)).statusCode, 400, `${label}: refresh token dead`)
    }
  })

  t.test('RFC 7009 §2.1: the hint decides which lookup runs first; the other runs only on a miss', async (t) => {
    const lookups: string[] = []
    const store = await open(t)
    // Records the token lookups; every method stays bound to the store (its private fields need that).
    const spy = new Proxy(store, {
      get (target, key) {
        const value: unknown = Reflect.get(target, key)
        if (typeof value !== 'function') return value
        if (key === 'findByAccessTokenHash' || key === 'findByRefreshTokenHash') {
          return async (hash: string) => {
            lookups.push(key === 'findByAccessTokenHash' ? 'access' : 'refresh')
            return value.call(target, hash)
          }
        }
        return value.bind(target)
      }
    })
    const ctx = await buildApp(t, { store: spy })
    await ctx.signUp('pony', 'djangsta-secret')
    const cases: Array<[kind: 'access_token' | 'refresh_token', hint: string | null, expected: string[]]> = [
      ['refresh_token', 'refresh_token', ['refresh']],
      ['access_token', 'refresh_token', ['refresh', 'access']],
      ['access_token', 'access_token', ['access']],
      ['access_token', null, ['access']],
      ['refresh_token', null, ['access', 'refresh']],
      ['refresh_token', 'foo', ['access', 'refresh']]
    ]
    for (const [kind, hint, expected] of cases) {
      const tokens = (await ctx.login('pony', 'djangsta-secret')).json()
      lookups.length = 0
      const params: Record<string, string> = { token: tokens[kind], client_id: ctx.publicId }
      if (hint !== null) params.token_type_hint = hint
      assertRevokedAnswer(t, await revoke(ctx, params))
      t.same(lookups, expected, `${kind} hinted ${String(hint)}`)
    }
  })

  t.test('RFC 7009 §2.2: an unknown or already-revoked token answers 200 and changes nothing', async (t) => {
    const ctx = await build(t)
    const tokens = await loggedIn(ctx)
    for (const token of ['no-such-token', 'x'.repeat(512), tokens.access_token.slice(1)]) {
      assertRevokedAnswer(t, await revoke(ctx, { token, client_id: ctx.publicId }), `unknown ${token.slice(0, 10)}`)
      assertRevokedAnswer(t, await revoke(ctx, { token, token_type_hint: 'refresh_token', client_id: ctx.publicId }))
    }
    t.equal((await ctx.me(tokens.access_token)).statusCode, 200, 'the real token is alive')

    assertRevokedAnswer(t, await revoke(ctx, { token: tokens.access_token, client_id: ctx.publicId }))
    const revokedAt = (await record(ctx, tokens.access_token)).revokedAt
    ctx.advance(60)
    assertRevokedAnswer(t, await revoke(ctx, { token: tokens.access_token, client_id: ctx.publicId }), 'again')
    assertRevokedAnswer(t, await revoke(ctx, { token: tokens.refresh_token, client_id: ctx.publicId }), 'its refresh token')
    t.equal((await record(ctx, tokens.access_token)).revokedAt, revokedAt, 'the first revocation time stays')
  })

  t.test('RFC 7009 §2.1: a client cannot revoke another client\'s token, and learns nothing from trying', async (t) => {
    const ctx = await build(t)
    const tokens = await loggedIn(ctx) // issued to the public client
    const unknown = await revoke(ctx, { token: 'no-such-token' }, { authorization: basic(ctx.confidentialId, ctx.confidentialSecret) })
    for (const [kind, hint] of [['access_token', 'access_token'], ['refresh_token', 'refresh_token'], ['access_token', 'refresh_token']] as const) {
      const res = await revoke(ctx, { token: tokens[kind], token_type_hint: hint }, { authorization: basic(ctx.confidentialId, ctx.confidentialSecret) })
      assertRevokedAnswer(t, res, `${kind} hinted ${hint}`)
      t.same(res.headers, { ...unknown.headers, date: res.headers.date }, 'answered exactly as an unknown token')
    }
    // The confidential client's own token, revoked by the public client by client_id: also refused.
    const own = (await ctx.app.inject({
      method: 'POST',
      url: '/o/token/',
      headers: { 'content-type': FORM, authorization: basic(ctx.confidentialId, ctx.confidentialSecret) },
      payload: 'grant_type=client_credentials'
    })).json()
    assertRevokedAnswer(t, await revoke(ctx, { token: own.access_token, client_id: ctx.publicId }))

    t.equal((await record(ctx, tokens.access_token)).revokedAt, null, 'nothing revoked')
    t.equal((await record(ctx, own.access_token)).revokedAt, null)
    t.equal((await ctx.me(tokens.access_token)).statusCode, 200, 'the token still works')
    t.equal((await ctx.me(own.access_token)).statusCode, 200)
    t.equal((await ctx.refresh(tokens.refresh_token)).statusCode, 200, 'its refresh token still works')
  })

  t.test('RFC 7009 §2.1: a confidential client authenticates by Basic or in the body, and revokes its own token', async (t) => {
    const ctx = await build(t)
    const issue = async (): Promise<string> => (await ctx.app.inject({
      method: 'POST',
      url: '/o/token/',
      headers: { 'content-type': FORM, authorization: basic(ctx.confidentialId, ctx.confidentialSecret) },
      payload: 'grant_type=client_credentials'
    })).json().access_token
    const viaBasic = await issue()
    const viaBody = await issue()
    assertRevokedAnswer(t, await revoke(ctx, { token: viaBasic }, { authorization: basic(ctx.confidentialId, ctx.confidentialSecret) }))
    assertRevokedAnswer(t, await revoke(ctx, { token: viaBody, client_id: ctx.confidentialId, client_secret: ctx.confidentialSecret }))
    t.equal((await ctx.me(viaBasic)).statusCode, 401)
    t.equal((await ctx.me(viaBody)).statusCode, 401)
  })

  t.test('RFC 7009 §2.1 / RFC 6749 §5.2: failed client authentication is 401 invalid_client and revokes nothing', async (t) => {
    const ctx = await build(t)
    const tokens = await loggedIn(ctx)
    const token = tokens.refresh_token
    const cases: Array<[string, Record<string, string>, Record<string, string>]> = [
      ['no client at all', { token }, {}],
      ['unknown client_id', { token, client_id: 'nobody' }, {}],
      ['confidential client without its secret', { token, client_id: ctx.confidentialId }, {}],
      ['wrong secret in the body', { token, client_id: ctx.confidentialId, client_secret: 'wrong' }, {}],
      ['wrong secret via Basic', { token }, { authorization: basic(ctx.confidentialId, 'wrong') }],
      ['public client with a secret', { token, client_id: ctx.publicId, client_secret: 'x' }, {}],
      ['malformed Basic', { token }, { authorization: 'Basic !!!' }]
    ]
    for (const [label, params, headers] of cases) {
      const res = await revoke(ctx, params, headers)
      t.equal(res.statusCode, 401, label)
      t.equal(res.headers['www-authenticate'], 'Basic realm="api"', `${label}: Basic challenge`)
      t.equal(res.headers['cache-control'], 'no-store')
      t.equal(res.json().error, 'invalid_client', label)
    }
    t.equal((await record(ctx, tokens.access_token)).revokedAt, null, 'nothing revoked')
    t.equal((await ctx.refresh(tokens.refresh_token)).statusCode, 200)
  })

  t.test('RFC 7009 §2.2.1: a missing token parameter is 400 invalid_request', async (t) => {
    const ctx = await build(t)
    const cases: Array<Record<string, string>> = [
      { client_id: ctx.publicId }, { client_id: ctx.publicId, token: '' }, { client_id: ctx.publicId, token_type_hint: 'access_token' }
    ]
    for (const params of cases) {
      const res = await revoke(ctx, params)
      t.equal(res.statusCode, 400)
      t.same(res.json(), { error: 'invalid_request', error_description: 'Request is missing token parameter.' })
      t.equal(res.headers['cache-control'], 'no-store')
    }
    // Client authentication comes first: an unknown client without a token is still 401.
    t.equal((await revoke(ctx, { client_id: 'nobody' })).statusCode, 401)
  })

  t.test('RFC 7009 §2.1: a JSON body works; parameters in the query string are refused', async (t) => {
    const ctx = await build(t)
    const tokens = await loggedIn(ctx)
    const query = await ctx.app.inject({
      method: 'POST',
      url: `/o/revoke_token/?token=${tokens.access_token}`,
      payload: { client_id: ctx.publicId, token: tokens.access_token }
    })
    t.equal(query.statusCode, 400)
    t.equal(query.json().error, 'invalid_request')
    t.equal((await ctx.me(tokens.access_token)).statusCode, 200, 'not revoked')

    const json = await ctx.app.inject({ method: 'POST', url: '/o/revoke_token', payload: { client_id: ctx.publicId, token: tokens.access_token } })
    assertRevokedAnswer(t, json)
    t.equal((await ctx.me(tokens.access_token)).statusCode, 401)
    const wrongType = await ctx.app.inject({ method: 'POST', url: '/o/revoke_token/', payload: { client_id: ctx.publicId, token: [tokens.refresh_token] } })
    t.equal(wrongType.statusCode, 400, 'a token that is not a string is bad input')
    t.equal((await ctx.refresh(tokens.refresh_token)).statusCode, 400, 'the refresh token died with the access token')
  })

  t.test('RFC 9700 §4.14.2: revoking an old, rotated access token does not weaken reuse detection', async (t) => {
    const ctx = await build(t)
    const first = await loggedIn(ctx)
    // An attacker redeems the stolen refresh token, then "revokes" the stale access token of the same record.
    const stolen = (await ctx.refresh(first.refresh_token)).json()
    assertRevokedAnswer(t, await revoke(ctx, { token: first.access_token, client_id: ctx.publicId }))
    t.equal((await record(ctx, first.access_token)).revokedAt, null, 'a dead (rotated) record is left as it is')
    // The legitimate client presents the rotated refresh token after the reuse window: the whole family ends.
    ctx.advance(5)
    t.equal((await ctx.refresh(first.refresh_token)).statusCode, 400)
    t.equal((await ctx.me(stolen.access_token)).statusCode, 401, "the attacker's session died")
    t.equal((await ctx.refresh(stolen.refresh_token)).statusCode, 400)
  })

  t.test('with tokenCache on, a revocation takes effect at once in this process', async (t) => {
    const ctx = await build(t, { tokenCache: { max: 100, ttl: 300 } })
    const first = await loggedIn(ctx)
    const second = (await ctx.login('pony', 'djangsta-secret')).json()
    const family = (await ctx.refresh(second.refresh_token)).json()
    for (const token of [first.access_token, family.access_token]) {
      t.equal((await ctx.me(token)).statusCode, 200, 'verified, and now cached')
    }
    assertRevokedAnswer(t, await revoke(ctx, { token: first.access_token, client_id: ctx.publicId }))
    t.equal((await ctx.me(first.access_token)).statusCode, 401, 'the revoked access token is no longer trusted from the cache')
    assertRevokedAnswer(t, await revoke(ctx, { token: family.refresh_token, client_id: ctx.publicId }))
    t.equal((await ctx.me(family.access_token)).statusCode, 401, "the revoked family's cached access token too")
  })

  t.test('routes.revoke: a custom path answers with and without its trailing slash; false turns it off', async (t) => {
    const custom = await build(t, { routes: { revoke: '/auth/logout' } })
    const tokens = await loggedIn(custom)
    assertRevokedAnswer(t, await revoke(custom, { token: 'unknown', client_id: custom.publicId }, {}, '/auth/logout/'))
    assertRevokedAnswer(t, await revoke(custom, { token: tokens.access_token, client_id: custom.publicId }, {}, '/auth/logout'))
    t.equal((await custom.me(tokens.access_token)).statusCode, 401)
    t.equal((await revoke(custom, { token: 'x', client_id: custom.publicId })).statusCode, 404, 'the default path is gone')

    const off = await build(t, { routes: { revoke: false } })
    const kept = await loggedIn(off)
    for (const url of ['/o/revoke_token/', '/o/revoke_token']) {
      t.equal((await revoke(off, { token: kept.access_token, client_id: off.publicId }, {}, url)).statusCode, 404, url)
    }
    t.equal((await off.me(kept.access_token)).statusCode, 200)
  })
})
