/**
 * An outage is not a bug: a failing store or user source answers 503 `temporarily_unavailable`, logged as a
 * store failure; any other unexpected error (the plugin's own, or the app's in its user source or password
 * policy) answers 500 `server_error`, logged with its stack; neither body carries any detail.
 */
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import type { OAuth2ServerOptions, UserSource } from '../lib/index.js'
import { reportingFailures, StoreFailure } from '../lib/errors.js'
import { buildApp, loggedIn, type TestApp } from './fixtures/app.js'

const SERVER_ERROR = { error: 'server_error', error_description: 'The server encountered an unexpected error.' }
const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'The server cannot handle the request now: retry later.' }

/** An app whose Fastify logger writes into `lines`. */
async function loggedApp (t: Test, options: Partial<OAuth2ServerOptions>): Promise<{ ctx: TestApp, lines: string[] }> {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const ctx = await buildApp(t, options, undefined, undefined, { logger: { level: 'error', stream } })
  return { ctx, lines }
}

t.test('a throwing passwordPolicy.validate is a bug: 500, logged with its stack, nothing stored', async (t) => {
  const { ctx, lines } = await loggedApp(t, {
    passwordPolicy: { validate: () => { throw new Error('policy service misconfigured: key sk_live_123') } }
  })
  const res = await ctx.signUp('pony', 'djangsta-secret')
  t.equal(res.statusCode, 500)
  t.same(res.json(), SERVER_ERROR)
  t.equal(res.headers['retry-after'], undefined, 'nothing to retry')
  t.notMatch(res.body, 'sk_live_123')
  const log = lines.join('')
  t.match(log, /unexpected error; answering 500/)
  t.match(log, /policy service misconfigured/, 'the log has the error')
  t.match(log, /"stack":"Error: policy service misconfigured/, 'with its stack')
  t.equal(await ctx.store.findUserByUsernameKey('pony'), null)
})

t.test('the app\'s users source: a TypeError is a bug (500), a rejection or a synchronous throw is an outage (503)', async (t) => {
  let mode: 'ok' | 'bug' | 'down' | 'sync' = 'ok'
  const user = { id: '1', username: 'pony' }
  const source: UserSource = {
    findByUsername: async () => ({ ...user, passwordHash: '' }),
    findById (id: string) {
      if (mode === 'bug') return (undefined as unknown as { row: Promise<null> }).row
      if (mode === 'down') return Promise.reject(new Error('connection refused'))
      if (mode === 'sync') throw new Error('pool closed')
      return Promise.resolve(id === '1' ? user : null)
    },
    verifyPassword: async () => true
  }
  const { ctx, lines } = await loggedApp(t, { users: source })
  const tokens = (await ctx.login('pony', 'anything-at-all')).json()
  t.equal((await ctx.me(tokens.access_token)).statusCode, 200)

  mode = 'bug'
  const guard = await ctx.me(tokens.access_token)
  t.equal(guard.statusCode, 500, 'in the guard')
  t.same(guard.json(), SERVER_ERROR)
  const refresh = await ctx.refresh(tokens.refresh_token)
  t.equal(refresh.statusCode, 500, 'in the refresh grant')
  t.same(refresh.json(), SERVER_ERROR)
  t.match(lines.join(''), /TypeError/)

  for (const outage of ['down', 'sync'] as const) {
    mode = outage
    for (const res of [await ctx.me(tokens.access_token), await ctx.refresh(tokens.refresh_token)]) {
      t.equal(res.statusCode, 503, outage)
      t.same(res.json(), UNAVAILABLE)
      t.equal(res.headers['retry-after'], '1')
    }
  }
  t.match(lines.join(''), /the store failed; answering 503/)
  mode = 'ok'
  t.equal((await ctx.refresh(tokens.refresh_token)).statusCode, 200, 'the refresh token was never spent')
})

t.test('a store method that throws a TypeError is a bug: 500', async (t) => {
  const { ctx } = await loggedApp(t, {})
  const tokens = await loggedIn(ctx)
  ctx.store.findByRefreshTokenHash = async () => { throw new TypeError('Cannot read properties of undefined') }
  const res = await ctx.refresh(tokens.refresh_token)
  t.equal(res.statusCode, 500)
  t.same(res.json(), SERVER_ERROR)
})

t.test('reportingFailures: results pass through, sync or async; failures become StoreFailure unless bugs', async (t) => {
  const target = {
    limit: 3,
    sync: (n: number) => n + 1,
    async: async (n: number) => n * 2,
    rejects: async () => { throw new Error('down') },
    throwsBug: () => { throw new TypeError('bug') }
  }
  const wrapped = reportingFailures(target)
  t.equal(wrapped.limit, 3)
  t.equal(wrapped.sync(1), 2, 'a plain value is returned as it is')
  t.equal(await wrapped.async(2), 4)
  t.equal(wrapped.sync, wrapped.sync, 'each method is wrapped once')
  await t.rejects(wrapped.rejects(), StoreFailure)
  t.throws(() => wrapped.throwsBug(), TypeError)
})
