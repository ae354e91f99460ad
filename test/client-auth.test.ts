/** RFC 6749 §2.3.1 client authentication over HTTP Basic, as client libraries send it by default. */
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { basic, buildApp, loggedIn, type TestApp } from './fixtures/app.js'

const FORM = 'application/x-www-form-urlencoded'

function post (ctx: TestApp, url: string, params: Record<string, string>, authorization: string): Promise<LightMyRequestResponse> {
  return ctx.app.inject({ method: 'POST', url, payload: new URLSearchParams(params).toString(), headers: { 'content-type': FORM, authorization } })
}

function assertInvalidClient (t: Test, res: LightMyRequestResponse, label: string): void {
  t.equal(res.statusCode, 401, label)
  t.equal(res.headers['www-authenticate'], 'Basic realm="api"', `${label}: Basic challenge`)
  t.same(res.json(), { error: 'invalid_client', error_description: 'Client authentication failed.' }, label)
}

t.test('a public client identified by Basic with an empty password (simple-oauth2, requests-oauthlib) logs in, refreshes and revokes', async (t) => {
  const ctx = await buildApp(t)
  await ctx.signUp('pony', 'djangsta-secret')
  const identified = basic(ctx.publicId, '')
  t.equal(identified, `Basic ${Buffer.from(`${ctx.publicId}:`).toString('base64')}`, 'the header those libraries send')

  const login = await post(ctx, '/o/token/', { grant_type: 'password', username: 'pony', password: 'djangsta-secret' }, identified)
  t.equal(login.statusCode, 200)
  t.equal(login.json().token_type, 'Bearer')
  t.equal((await ctx.me(login.json().access_token)).json().oauth.clientId, ctx.publicId, 'issued to the public client')

  const refreshed = await post(ctx, '/o/token/', { grant_type: 'refresh_token', refresh_token: login.json().refresh_token }, identified)
  t.equal(refreshed.statusCode, 200)

  const revoked = await post(ctx, '/o/revoke_token/', { token: refreshed.json().refresh_token }, identified)
  t.equal(revoked.statusCode, 200)
  t.equal((await ctx.me(refreshed.json().access_token)).statusCode, 401, 'the login is over')
})

t.test('identification only: a secret from a public client, an empty one from a confidential client, are refused', async (t) => {
  const ctx = await buildApp(t)
  await ctx.signUp('pony', 'djangsta-secret')
  const login = { grant_type: 'password', username: 'pony', password: 'djangsta-secret' }
  assertInvalidClient(t, await post(ctx, '/o/token/', login, basic(ctx.publicId, 'x')), 'a public client with a non-empty Basic secret')
  assertInvalidClient(t, await post(ctx, '/o/token/', login, basic(ctx.confidentialId, '')), 'a confidential client with an empty Basic secret')
  const credentials = await post(ctx, '/o/token/', { grant_type: 'client_credentials' }, basic(ctx.publicId, ''))
  t.equal(credentials.statusCode, 400, 'client credentials stay for confidential clients')
  t.equal(credentials.json().error, 'unauthorized_client')

  const { access_token: token } = await loggedIn(ctx)
  assertInvalidClient(t, await post(ctx, '/o/introspect/', { token }, basic(ctx.publicId, '')),
    'introspection stays for authenticated confidential clients')
})
