/**
 * Faults: when the store fails (a database down or erroring) every route answers 503
 * `temporarily_unavailable` with `Retry-After` and no internal detail, the process keeps running, and it
 * recovers when the database comes back. Nothing is left half-written.
 */
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { buildExampleApp } from '../examples/app.js'
import { KyselyStore, MemoryStore, openDatabase } from '../lib/index.js'
import { hashToken } from '../lib/crypto/tokens.js'
import { buildApp, loggedIn } from './fixtures/app.js'
import { startPostgres } from './fixtures/postgres.js'

const SECRET_IN_ERROR = 'connection to db://admin:hunter2@db failed'
const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'The server cannot handle the request now: retry later.' }

/** A MemoryStore whose methods named in `failing` throw while `broken` is true. */
class FlakyStore extends MemoryStore {
  broken = false
  constructor (private readonly failing: ReadonlyArray<keyof MemoryStore>) {
    super()
    for (const name of failing) {
      const original = (this[name] as (...args: unknown[]) => Promise<unknown>).bind(this)
      ;(this as Record<string, unknown>)[name] = async (...args: unknown[]) => {
        if (this.broken) throw new Error(SECRET_IN_ERROR)
        return await original(...args)
      }
    }
  }
}

function expectUnavailable (t: Test, res: { statusCode: number, headers: Record<string, unknown>, body: string, json: () => unknown }, name: string): void {
  t.equal(res.statusCode, 503, name)
  t.equal(res.headers['retry-after'], '1', name)
  t.same(res.json(), UNAVAILABLE, name)
  t.notMatch(res.body, 'hunter2', name)
}

t.test('a failing store: 503 on every route, the failure logged without secrets, then recovery', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const store = new FlakyStore(['findClient', 'findByAccessTokenHash', 'findUserByUsernameKey', 'createUser'])
  const ctx = await buildApp(t, { store })
  const tokens = await loggedIn(ctx)

  const logged = Fastify({ logger: { level: 'info', stream } })
  t.teardown(() => logged.close())
  await logged.register((await import('../lib/index.js')).default, { store, throttle: false })
  logged.get('/me', { onRequest: logged.oauth2.authenticate() }, async (request) => request.user)

  store.broken = true
  expectUnavailable(t, await ctx.login('pony', 'djangsta-secret'), 'token')
  expectUnavailable(t, await ctx.signUp('newbie', 'djangsta-secret'), 'sign-up')
  expectUnavailable(t, await ctx.me(tokens.access_token), 'guard')
  expectUnavailable(t, await logged.inject({ url: '/me', headers: { authorization: `Bearer ${tokens.access_token}` } }), 'guard, logged')
  const log = lines.join('')
  t.match(log, /the store failed; answering 503/)
  t.notMatch(log, tokens.access_token, 'no token in the log')

  store.broken = false
  t.equal((await ctx.me(tokens.access_token)).statusCode, 200, 'recovered')
  t.equal((await ctx.signUp('newbie', 'djangsta-secret')).statusCode, 201)
})

t.test('a refresh whose rotation fails leaves the old refresh token valid', async (t) => {
  const store = new FlakyStore(['rotateRefreshToken'])
  const ctx = await buildApp(t, { store })
  const tokens = await loggedIn(ctx)
  store.broken = true
  expectUnavailable(t, await ctx.refresh(tokens.refresh_token), 'refresh')
  const record = await store.findByRefreshTokenHash(hashToken(tokens.refresh_token))
  t.equal(record?.rotatedAt, null, 'not rotated')
  t.equal((await ctx.me(tokens.access_token)).statusCode, 200, 'the old access token still works')
  store.broken = false
  t.equal((await ctx.refresh(tokens.refresh_token)).statusCode, 200, 'and the old refresh token refreshes')
})

t.test('PostgreSQL stopped mid-run: 503s, the process lives, success again after the restart', async (t) => {
  const server = await startPostgres(t)
  if (server === null) return
  const { db } = await openDatabase(server.url)
  const store = new KyselyStore({ db })
  await store.migrate()
  const { app, publicClientId } = await buildExampleApp(store, { throttle: false })
  t.teardown(async () => {
    await app.close()
    await db.destroy()
  })
  const login = async () => await app.inject({
    method: 'POST', url: '/o/token/', payload: { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: publicClientId }
  })
  t.equal((await app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'pony', password: 'djangsta-secret' } })).statusCode, 201)
  const before = await login()
  t.equal(before.statusCode, 200)
  const { access_token: accessToken } = before.json()

  await server.stop()
  for (let i = 0; i < 3; i++) {
    expectUnavailable(t, await login(), `login while down #${i}`)
    expectUnavailable(t, await app.inject({ url: '/me', headers: { authorization: `Bearer ${accessToken}` } }), `/me while down #${i}`)
    t.equal((await app.inject({ url: '/ping' })).statusCode, 200, 'routes without the database keep answering')
  }

  await server.start()
  const after = await login()
  t.equal(after.statusCode, 200, 'login works again')
  t.equal((await app.inject({ url: '/me', headers: { authorization: `Bearer ${accessToken}` } })).statusCode, 200, 'the old token too')
})
