/**
 * simple-oauth2 (v5) against the example app over real HTTP, with its defaults: client credentials in an
 * HTTP Basic header (a public client's with an empty password), form bodies, every answer parsed as JSON.
 * What it needs set are the paths, which are not its defaults: the token and revocation endpoints.
 */
import { ClientCredentials, ResourceOwnerPassword, type ModuleOptions } from 'simple-oauth2'
import t, { type Test } from 'tap'
import { PREFIXES, startLiveExample, type LiveExample } from './fixtures/live-example.js'

function options (server: LiveExample, prefix: string, id: string, secret: string): ModuleOptions {
  return {
    client: { id, secret },
    auth: { tokenHost: server.origin, tokenPath: `${prefix}/o/token/`, revokePath: `${prefix}/o/revoke_token/` }
  }
}

/** What `GET /me` answers to an access token. */
async function me (server: LiveExample, accessToken: unknown): Promise<Response> {
  return await fetch(`${server.origin}/me`, { headers: { authorization: `Bearer ${String(accessToken)}` } })
}

/** simple-oauth2's error for a refused request: a Boom error carrying the server's answer. */
async function refusal (t: Test, request: Promise<unknown>): Promise<unknown> {
  const error = await request.then(() => undefined, (err: unknown) => err)
  t.type(error, Error, 'refused')
  return (error as { data?: { payload?: unknown } }).data?.payload
}

for (const prefix of PREFIXES) {
  t.test(`prefix ${JSON.stringify(prefix)}`, async (t) => {
    // No reuse window, so that refreshing the same token twice below is a replay that ends the login.
    const server = await startLiveExample(t, prefix, { refreshTokenReuseInterval: 0 })
    const clients = {
      public: options(server, prefix, server.publicClientId, ''),
      confidential: options(server, prefix, server.confidential.id, server.confidential.secret)
    }

    for (const [kind, config] of Object.entries(clients)) {
      t.test(`a ${kind} client: password grant, refresh, revoke, revokeAll`, async (t) => {
        const password = new ResourceOwnerPassword(config)
        const token = await password.getToken({ ...server.user })
        t.match(token.token, { token_type: 'Bearer', scope: 'read write', expires_in: 3600 })
        t.equal(token.expired(), false)
        t.equal((await me(server, token.token.access_token)).status, 200)

        const refreshed = await token.refresh()
        t.not(refreshed.token.access_token, token.token.access_token)
        t.equal((await me(server, refreshed.token.access_token)).status, 200)
        t.match(await refusal(t, token.refresh()), { error: 'invalid_grant' },
          'the rotated refresh token is refused')
        t.equal((await me(server, refreshed.token.access_token)).status, 401, 'and its reuse ended the login')

        const another = await password.getToken({ ...server.user })
        await another.revoke('access_token')
        t.equal((await me(server, another.token.access_token)).status, 401, 'revoke() revoked the access token')
        t.match(await refusal(t, another.refresh()), { error: 'invalid_grant' },
          'and its refresh token')
        await another.revoke('refresh_token') // already revoked: answered as any other

        const third = await password.getToken({ ...server.user })
        await third.revokeAll()
        t.equal((await me(server, third.token.access_token)).status, 401, 'revokeAll() revoked both')
        await refusal(t, third.refresh())
      })
    }

    t.test('a confidential client: client credentials; a public one is refused them', async (t) => {
      const token = await new ClientCredentials(clients.confidential).getToken({ scope: 'read' })
      t.match(token.token, { token_type: 'Bearer', scope: 'read', expires_in: 3600 })
      t.equal(token.token.refresh_token, undefined)
      const res = await me(server, token.token.access_token)
      t.equal(res.status, 403, 'the token works, but /me wants a user')
      t.match(res.headers.get('www-authenticate'), /^Bearer realm="api", error="insufficient_scope"/)
      await token.revoke('access_token')
      t.equal((await me(server, token.token.access_token)).status, 401, 'revoked')

      t.match(await refusal(t, new ClientCredentials(clients.public).getToken({})), { error: 'unauthorized_client' })
      const wrong = options(server, prefix, server.confidential.id, 'wrong')
      t.match(await refusal(t, new ClientCredentials(wrong).getToken({})), { error: 'invalid_client' })
    })
  })
}
