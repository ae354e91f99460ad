/**
 * A code's single use holds against parallel requests over real HTTP, on every store: of 10 concurrent
 * exchanges of one code exactly one gets tokens, the rest `invalid_grant`; and since the others are
 * replays, the winner's tokens end up revoked (RFC 6749 §4.1.2).
 */
import t from 'tap'
import { authorizeUrl, codeOf, listeningCodeApp, logInThroughPage, pkce, REDIRECT, requestParams } from './fixtures/authorize.js'
import { forEachStore } from './fixtures/stores.js'

forEachStore(t, async (t, open) => {
  t.test('10 concurrent exchanges of one code: one 200, nine invalid_grant, then the winner revoked', async (t) => {
    const store = await open(t)
    const { url, clientId } = await listeningCodeApp(t, store)

    // The browser's part: the login page, then its form.
    const { verifier, challenge } = pkce()
    const back = await logInThroughPage(url, `${url}${authorizeUrl(requestParams(clientId, challenge))}`)
    t.equal(back.status, 303)
    const { code } = codeOf({ headers: { location: back.headers.get('location') } } as never)

    const form = new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: clientId })
    const answers = await Promise.all(Array.from({ length: 10 }, async () => {
      const res = await fetch(`${url}/o/token/`, { method: 'POST', body: form })
      return { status: res.status, body: await res.json() as Record<string, string> }
    }))
    const winners = answers.filter((a) => a.status === 200)
    t.equal(winners.length, 1, 'exactly one 200')
    t.same(answers.filter((a) => a.status !== 200).map((a) => [a.status, a.body.error]), Array(9).fill([400, 'invalid_grant']))
    const winner = winners[0]?.body as Record<string, string>
    const me = await fetch(`${url}/me`, { headers: { authorization: `Bearer ${winner.access_token}` } })
    t.equal(me.status, 401, 'the replays revoked the winner\'s access token')
    const refresh = await fetch(`${url}/o/token/`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: winner.refresh_token as string, client_id: clientId })
    })
    t.equal(refresh.status, 400, 'and its refresh token')
  })
})
