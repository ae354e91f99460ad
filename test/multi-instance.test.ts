/**
 * Two server instances on one PostgreSQL database, as a team runs them behind a load balancer: state is
 * in the database only, so each instance sees the other's writes on its very next request.
 */
import t, { type Test } from 'tap'
import { buildExampleApp } from '../examples/app.js'
import { KyselyStore, openDatabase } from '../lib/index.js'
import { startPostgres } from './fixtures/postgres.js'

const server = await startPostgres(t)

async function instance (t: Test, url: string): Promise<Awaited<ReturnType<typeof buildExampleApp>>> {
  // Each instance has its own pool, as two processes would.
  const { db } = await openDatabase(url)
  const store = new KyselyStore({ db })
  await store.migrate()
  // No reuse window: a second exchange of a refresh token is a replay (test/concurrency.test.ts covers the window).
  const example = await buildExampleApp(store, { refreshTokenReuseInterval: 0 })
  t.teardown(async () => {
    await example.app.close()
    await db.destroy()
  })
  return example
}

if (server !== null) {
  t.test('tokens, revocations and races across two instances', async (t) => {
    const a = await instance(t, server.url)
    const b = await instance(t, server.url)
    t.equal(b.publicClientId, a.publicClientId, 'the second instance finds the first one\'s client')
    const clientId = a.publicClientId

    const signUp = await a.app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'pony', password: 'djangsta-secret' } })
    t.equal(signUp.statusCode, 201)
    t.equal((await b.app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'PONY', password: 'other-password' } })).statusCode, 400,
      'the username is taken on the other instance too')

    const login = async (app: typeof a.app): Promise<{ access_token: string, refresh_token: string }> => {
      const res = await app.inject({ method: 'POST', url: '/o/token/', payload: { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: clientId } })
      t.equal(res.statusCode, 200)
      return res.json()
    }
    const refresh = async (app: typeof a.app, token: string) =>
      await app.inject({ method: 'POST', url: '/o/token/', payload: { grant_type: 'refresh_token', refresh_token: token, client_id: clientId } })
    const me = async (app: typeof a.app, token: string) =>
      (await app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })).statusCode

    // A token issued by one instance works on the other.
    const first = await login(a.app)
    t.equal(await me(b.app, first.access_token), 200)

    // A rotation on B is seen by A on the very next request.
    const second = (await refresh(b.app, first.refresh_token)).json()
    t.equal(await me(a.app, first.access_token), 401, 'the rotated access token is dead on A')
    t.equal(await me(a.app, second.access_token), 200)

    // Reuse detected on A revokes the family; B sees it at once.
    t.equal((await refresh(a.app, first.refresh_token)).statusCode, 400)
    t.equal(await me(b.app, second.access_token), 401, 'family revocation on A is seen by B')

    // Logging out everywhere through one instance.
    const third = await login(b.app)
    await a.app.oauth2.revokeUserTokens(signUp.json().id)
    t.equal(await me(b.app, third.access_token), 401)

    // Concurrent refreshes of one token sent to both instances at once: exactly one winner, no 5xx.
    for (let round = 0; round < 3; round++) {
      const fresh = await login(a.app)
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => refresh(i % 2 === 0 ? a.app : b.app, fresh.refresh_token)))
      const statuses = results.map((r) => r.statusCode)
      t.equal(statuses.filter((s) => s === 200).length, 1, `round ${round}: one winner (${statuses.join(',')})`)
      t.equal(statuses.filter((s) => s === 400).length, 9, `round ${round}: the rest invalid_grant`)
      for (const res of results.filter((r) => r.statusCode === 400)) t.equal(res.json().error, 'invalid_grant')
    }
  })
}
