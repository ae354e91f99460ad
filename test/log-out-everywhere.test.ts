/**
 * `app.oauth2.revokeUserTokens(userId)`, "log out everywhere" (after a password change, say), ends the
 * user's sessions at the authorization server and the codes not yet redeemed as well as their tokens, on
 * every store, over real HTTP: no browser that was logged in gets a new code without the password, and no
 * code given out before it can be exchanged after it, even for authorizations that were running at the
 * same moment.
 */
import Fastify from 'fastify'
import t from 'tap'
import oauth2, { MemoryStore, type NewAuthorizationCode } from '../lib/index.js'
import { authorizeUrl, codeClient, listeningCodeApp, logInThroughPage, pkce, REDIRECT, requestParams } from './fixtures/authorize.js'
import { forEachStore } from './fixtures/stores.js'

/** The code in a redirect to the client, if the answer is one. */
function codeIn (res: Response): string | null {
  const location = res.headers.get('location')
  return location === null ? null : new URL(location).searchParams.get('code')
}

forEachStore(t, async (t, open) => {
  t.test('log out everywhere: sessions, pending codes and tokens end, with authorizations running at once', async (t) => {
    const store = await open(t)
    const { app, url, clientId } = await listeningCodeApp(t, store)
    const userId = (await store.findUserByUsernameKey('pony'))?.id as string
    const { verifier, challenge } = pkce()
    const authorizeAt = `${url}${authorizeUrl(requestParams(clientId, challenge))}`
    const exchange = async (code: string): Promise<Response> => await fetch(`${url}/o/token/`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: clientId })
    })

    // The browser logs in on the login page and comes back with a code, which the app exchanges.
    const loggedIn = await logInThroughPage(url, authorizeAt)
    t.equal(loggedIn.status, 303)
    const session = (loggedIn.headers.get('set-cookie') as string).split(';')[0] as string
    const tokens = await (await exchange(codeIn(loggedIn) as string)).json() as Record<string, string>
    t.equal((await fetch(`${url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status, 200)
    // With the session, the next authorization needs no password: a code the app has not exchanged yet.
    const again = await fetch(authorizeAt, { redirect: 'manual', headers: { cookie: session } })
    t.equal(again.status, 302)
    const pending = codeIn(again) as string

    // Log out everywhere while ten authorizations with the session run at the same moment.
    const [revoked, ...racing] = await Promise.all([
      app.oauth2.revokeUserTokens(userId),
      ...Array.from({ length: 10 }, async () => await fetch(authorizeAt, { redirect: 'manual', headers: { cookie: session } }))
    ])
    t.equal(revoked, 1, 'the one token record revoked')
    for (const res of racing) {
      t.ok(res.status === 302 || res.status === 200, `each racing authorization ends in a code or the login page (${res.status})`)
      if (res.status === 200) t.match(await res.text(), 'name="password"')
    }
    const racingCodes = racing.map(codeIn).filter((code): code is string => code !== null)
    for (const code of [pending, ...racingCodes]) {
      const res = await exchange(code)
      t.equal(res.status, 400, 'a code given out before the logout cannot be exchanged after it')
      t.equal((await res.json() as Record<string, string>).error, 'invalid_grant')
    }

    const after = await fetch(authorizeAt, { redirect: 'manual', headers: { cookie: session } })
    t.equal(after.status, 200, 'the session is over: the login page, not a code')
    t.match(await after.text(), 'name="password"')
    t.equal((await fetch(`${url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status, 401)
    const refresh = await fetch(`${url}/o/token/`, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string, client_id: clientId }) })
    t.equal(refresh.status, 400, 'the refresh token too')
    t.equal(await store.deleteUserSessions(userId), 0, 'no session or pending code of the user is left')
  })
})

t.test('a logout that lands between the code\'s insert and the answer: the code is never shown', async (t) => {
  /** A store where "log out everywhere" happens right before each code is stored (after the session was read). */
  class LogoutMeanwhile extends MemoryStore {
    override async createAuthorizationCode (code: NewAuthorizationCode): Promise<void> {
      await this.deleteUserSessions(code.userId)
      await super.createAuthorizationCode(code)
    }
  }
  const store = new LogoutMeanwhile()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(oauth2, { store, throttle: false })
  const clientId = await codeClient(store)
  t.equal((await app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'pony', password: 'djangsta-secret' } })).statusCode, 201)
  const userId = (await store.findUserByUsernameKey('pony'))?.id as string
  const { challenge } = pkce()
  const url = authorizeUrl(requestParams(clientId, challenge))
  const page = await app.inject({ method: 'GET', url })
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(page.body)?.[1] as string
  const csrfCookie = String(page.headers['set-cookie']).split(';')[0] as string
  const res = await app.inject({
    method: 'POST',
    url,
    headers: { cookie: csrfCookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ csrf_token: csrf, username: 'pony', password: 'djangsta-secret' }).toString()
  })
  t.equal(res.statusCode, 200, 'the login page again, not a redirect')
  t.equal(res.headers.location, undefined, 'no code reaches the browser')
  t.match(res.body, 'Your session has ended: log in again.')
  t.equal(await store.deleteUserSessions(userId), 1, 'the code stored after the logout stays unseen in the store, until it expires')
})
