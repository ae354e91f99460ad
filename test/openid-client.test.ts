/**
 * openid-client (v6) against the example app over real HTTP, with its defaults: discovery from the issuer
 * (RFC 8414, with its issuer check), the password grant, refresh, revocation, introspection, client
 * credentials by Basic and in the body, and a protected resource. The one option set is
 * `allowInsecureRequests`, which the library asks for before it talks plain HTTP (here: loopback).
 */
import * as client from 'openid-client'
import t, { type Test } from 'tap'
import { PREFIXES, startLiveExample, type LiveExample } from './fixtures/live-example.js'

/** Discovery as openid-client documents it for an OAuth 2.0 (not OpenID Connect) server. */
async function discover (server: LiveExample, clientId: string, auth?: client.ClientAuth): Promise<client.Configuration> {
  const metadata = auth === undefined ? undefined : {}
  return await client.discovery(server.issuer, clientId, metadata, auth, {
    algorithm: 'oauth2',
    execute: [client.allowInsecureRequests]
  })
}

/** The challenge a protected resource answered with, from the error openid-client throws for it. */
async function challenge (t: Test, request: Promise<Response>): Promise<client.WWWAuthenticateChallenge | undefined> {
  const error = await request.then(() => undefined, (err: unknown) => err)
  t.type(error, client.WWWAuthenticateChallengeError, 'openid-client reports the challenge')
  const challenges = (error as client.WWWAuthenticateChallengeError).cause
  t.equal(challenges.length, 1)
  return challenges[0]
}

for (const prefix of PREFIXES) {
  const realm = prefix === '' ? 'api' : 'auth'
  t.test(`prefix ${JSON.stringify(prefix)}`, async (t) => {
    const server = await startLiveExample(t, prefix, { realm })
    const me = new URL(`${server.origin}/me`)

    t.test('discovery from the issuer checks the issuer and finds every endpoint', async (t) => {
      const config = await discover(server, server.publicClientId)
      const metadata = config.serverMetadata()
      t.equal(metadata.issuer, server.base, 'the origin followed by the prefix')
      t.equal(metadata.token_endpoint, `${server.base}/o/token/`)
      t.equal(metadata.revocation_endpoint, `${server.base}/o/revoke_token/`)
      t.equal(metadata.introspection_endpoint, `${server.base}/o/introspect/`)
      const wrongIssuer = new URL(`${server.origin}/elsewhere`)
      await t.rejects(client.discovery(wrongIssuer, server.publicClientId, undefined, undefined, {
        algorithm: 'oauth2', execute: [client.allowInsecureRequests]
      }), 'another issuer is not found here')
    })

    t.test('a public client: password grant, protected resource, refresh, revocation', async (t) => {
      const config = await discover(server, server.publicClientId)
      t.equal(config.clientMetadata().token_endpoint_auth_method, undefined, 'no secret: openid-client sends client_id alone')
      const tokens = await client.genericGrantRequest(config, 'password', { ...server.user })
      t.equal(tokens.token_type, 'bearer', 'openid-client normalizes the type')
      t.equal(tokens.scope, 'read write')
      t.ok(tokens.refresh_token)
      t.equal(tokens.expires_in, 3600)

      const res = await client.fetchProtectedResource(config, tokens.access_token, me, 'GET')
      t.equal(res.status, 200)
      t.match(await res.json(), { username: 'pony' })

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string)
      t.not(refreshed.access_token, tokens.access_token)
      t.not(refreshed.refresh_token, tokens.refresh_token, 'rotated')
      t.equal((await client.fetchProtectedResource(config, refreshed.access_token, me, 'GET')).status, 200)

      await client.tokenRevocation(config, refreshed.refresh_token as string)
      const revoked = await challenge(t, client.fetchProtectedResource(config, refreshed.access_token, me, 'GET'))
      t.match(revoked, { scheme: 'bearer', parameters: { realm, error: 'invalid_token' } }, 'the login is over')
      const replay = await client.refreshTokenGrant(config, refreshed.refresh_token as string).catch((err: unknown) => err)
      t.type(replay, client.ResponseBodyError)
      t.match(replay, { status: 400, error: 'invalid_grant' }, 'its refresh token is dead too')
    })

    for (const [method, auth] of [
      ['client_secret_basic', client.ClientSecretBasic],
      ['client_secret_post', client.ClientSecretPost]
    ] as const) {
      t.test(`a confidential client by ${method}: client credentials, introspection, the user-only resource`, async (t) => {
        const config = await discover(server, server.confidential.id, auth(server.confidential.secret))
        const tokens = await client.clientCredentialsGrant(config, { scope: 'read' })
        t.equal(tokens.scope, 'read')
        t.equal(tokens.refresh_token, undefined)

        const introspected = await client.tokenIntrospection(config, tokens.access_token)
        t.match(introspected, { active: true, client_id: server.confidential.id, scope: 'read' })
        t.notOk('username' in introspected, 'no user')

        const refused = await challenge(t, client.fetchProtectedResource(config, tokens.access_token, me, 'GET'))
        t.match(refused, { scheme: 'bearer', parameters: { realm, error: 'insufficient_scope' } }, 'RFC 6750 §3: 403 with a challenge')

        const user = await client.genericGrantRequest(config, 'password', { ...server.user })
        t.match(await client.tokenIntrospection(config, user.access_token), { active: true, username: 'pony' })
        await client.tokenRevocation(config, user.access_token)
        t.same(await client.tokenIntrospection(config, user.access_token), { active: false })
      })
    }

    t.test('the default (OpenID Connect) discovery finds nothing: this is no OpenID provider', async (t) => {
      await t.rejects(client.discovery(server.issuer, server.publicClientId, undefined, undefined, {
        execute: [client.allowInsecureRequests]
      }))
    })
  })
}
