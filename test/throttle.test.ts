/** Brute-force defence: failed logins per (username, IP) and per IP, sign-ups per IP; state in the store. */
import Fastify from 'fastify'
import t from 'tap'
import { hashToken } from '../lib/crypto/tokens.js'
import type { OAuth2ServerOptions } from '../lib/index.js'
import { buildApp, T0, type TestApp } from './fixtures/app.js'
import { startExampleServer, type ExampleServer } from './fixtures/example-server.js'
import { forEachStore } from './fixtures/stores.js'

const ATTACKER = '203.0.113.7'
const OTHER = '198.51.100.20'

function loginFrom (ctx: TestApp, ip: string, username: string, password: string) {
  return ctx.app.inject({
    method: 'POST',
    url: '/o/token/',
    remoteAddress: ip,
    payload: { grant_type: 'password', username, password, client_id: ctx.publicId }
  })
}

forEachStore(t, async (t, open) => {
  const limits = { loginFailuresPerUser: 5, loginFailuresPerIp: 50, signUpsPerIp: 10, window: 900 }

  t.test('a password-guessing loop gets 429 after the limit; another user from another IP logs in', async (t) => {
    const ctx = await buildApp(t, { store: await open(t), throttle: limits })
    await ctx.signUp('victim', 'correct-horse')
    await ctx.signUp('bystander', 'battery-staple')
    const answers = []
    for (let i = 0; i < 8; i++) answers.push(await loginFrom(ctx, ATTACKER, 'victim', `guess-${i}`))
    t.same(answers.map((r) => r.statusCode), [400, 400, 400, 400, 400, 429, 429, 429])
    const throttled = answers[5]!
    t.same(throttled.json(), { error: 'slow_down', error_description: 'Too many attempts: retry later.' })
    t.equal(throttled.headers['retry-after'], '900')
    t.equal(throttled.headers['cache-control'], 'no-store')
    t.equal((await loginFrom(ctx, ATTACKER, 'victim', 'correct-horse')).statusCode, 429, 'even the right password, while throttled')
    t.equal((await loginFrom(ctx, OTHER, 'bystander', 'battery-staple')).statusCode, 200, 'another user from another IP')
    t.equal((await loginFrom(ctx, OTHER, 'victim', 'correct-horse')).statusCode, 200, 'the victim from another IP')

    ctx.advance(901)
    t.equal((await loginFrom(ctx, ATTACKER, 'victim', 'correct-horse')).statusCode, 200, 'the window has passed')
  })

  t.test('an unknown username is throttled exactly like a known one', async (t) => {
    const ctx = await buildApp(t, { store: await open(t), throttle: limits })
    await ctx.signUp('victim', 'correct-horse')
    const known = []
    const unknown = []
    for (let i = 0; i < 6; i++) {
      known.push(await loginFrom(ctx, ATTACKER, 'victim', 'wrong'))
      unknown.push(await loginFrom(ctx, ATTACKER, 'nobody', 'wrong'))
    }
    t.same(known.map((r) => [r.statusCode, r.body, r.headers['retry-after']]), unknown.map((r) => [r.statusCode, r.body, r.headers['retry-after']]))
  })

  t.test('a successful login clears the (username, IP) failures', async (t) => {
    const ctx = await buildApp(t, { store: await open(t), throttle: limits })
    await ctx.signUp('pony', 'djangsta-secret')
    for (let i = 0; i < 4; i++) await loginFrom(ctx, ATTACKER, 'pony', 'wrong')
    t.equal((await loginFrom(ctx, ATTACKER, 'PONY', 'djangsta-secret')).statusCode, 200, 'the key is the normalized username')
    for (let i = 0; i < 4; i++) t.equal((await loginFrom(ctx, ATTACKER, 'pony', 'wrong')).statusCode, 400)
  })

  t.test('every attempt is counted before its check; a success forgets the (username, IP) and gives the IP its hit back', async (t) => {
    const store = await open(t)
    const writes: string[] = []
    const watched = new Set(['createToken', 'hitThrottle', 'clearThrottle'])
    // The store's own methods (bound: they use private fields), with the writes recorded by name.
    const spy = new Proxy(store, {
      get (target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          if (watched.has(String(name))) writes.push(`${String(name)}${name === 'hitThrottle' && args[3] === -1 ? ' -1' : ''}`)
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      }
    })
    const ctx = await buildApp(t, { store: spy, throttle: limits })
    await ctx.signUp('pony', 'djangsta-secret')
    writes.length = 0
    t.equal((await loginFrom(ctx, ATTACKER, 'pony', 'wrong')).statusCode, 400)
    t.same(writes, ['hitThrottle', 'hitThrottle'], 'a failure counts against the (username, IP) and the IP, before the check')
    writes.length = 0
    t.equal((await loginFrom(ctx, ATTACKER, 'pony', 'djangsta-secret')).statusCode, 200)
    t.same(writes, ['hitThrottle', 'hitThrottle', 'clearThrottle', 'hitThrottle -1', 'createToken'], 'counted, then forgotten')
    t.equal((await store.getThrottle(hashToken(`login-ip\u0000${ATTACKER}`), T0))?.count, 1, 'the IP keeps only the failure')
    for (let i = 0; i < 6; i++) t.equal((await loginFrom(ctx, ATTACKER, 'pony', i < 5 ? 'wrong' : 'djangsta-secret')).statusCode, i < 5 ? 400 : 429)
  })

  t.test('attempts shed by a full hashing queue are given back: they were never checked', async (t) => {
    const ctx = await buildApp(t, { store: await open(t), throttle: limits, hashing: { concurrency: 1, maxQueue: 0 } })
    await ctx.signUp('pony', 'djangsta-secret')
    const burst = await Promise.all(Array.from({ length: 3 }, () => loginFrom(ctx, ATTACKER, 'pony', 'wrong')))
    t.same(burst.map((r) => r.statusCode).sort(), [400, 503, 503])
    const after = []
    for (let i = 0; i < 5; i++) after.push((await loginFrom(ctx, ATTACKER, 'pony', 'wrong')).statusCode)
    t.same(after, [400, 400, 400, 400, 429], 'one failure on record, not three')
  })

  t.test('failures per IP across usernames', async (t) => {
    const ctx = await buildApp(t, { store: await open(t), throttle: { ...limits, loginFailuresPerIp: 3 } })
    await ctx.signUp('pony', 'djangsta-secret')
    for (const name of ['a', 'b', 'c']) t.equal((await loginFrom(ctx, ATTACKER, name, 'x')).statusCode, 400)
    t.equal((await loginFrom(ctx, ATTACKER, 'pony', 'djangsta-secret')).statusCode, 429)
    t.equal((await loginFrom(ctx, OTHER, 'pony', 'djangsta-secret')).statusCode, 200)
  })

  t.test('sign-ups per IP: 429 past the limit, nothing stored', async (t) => {
    const ctx = await buildApp(t, { store: await open(t), throttle: { ...limits, signUpsPerIp: 2 } })
    const signUp = (ip: string, username: string) => ctx.app.inject({
      method: 'POST', url: '/sign_up/', remoteAddress: ip, payload: { username, password: 'djangsta-secret' }
    })
    t.equal((await signUp(ATTACKER, 'one')).statusCode, 201)
    t.equal((await signUp(ATTACKER, 'two')).statusCode, 201)
    const third = await signUp(ATTACKER, 'three')
    t.equal(third.statusCode, 429)
    t.equal(third.json().error, 'slow_down')
    t.ok(Number(third.headers['retry-after']) > 0)
    t.equal(await ctx.store.findUserByUsernameKey('three'), null)
    t.equal((await signUp(OTHER, 'four')).statusCode, 201)
  })

  t.test('the state is in the store: it holds across two server instances', async (t) => {
    const store = await open(t)
    const a = await buildApp(t, { store, throttle: limits })
    const b = Fastify()
    t.teardown(() => b.close())
    // The same clock as `a`'s (buildApp's fixed T0).
    await b.register((await import('../lib/index.js')).default, { store, throttle: limits, now: () => T0 } satisfies OAuth2ServerOptions)
    await a.signUp('pony', 'djangsta-secret')
    for (let i = 0; i < 5; i++) await loginFrom(a, ATTACKER, 'pony', 'wrong')
    const onB = await b.inject({
      method: 'POST', url: '/o/token/', remoteAddress: ATTACKER,
      payload: { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: a.publicId }
    })
    t.equal(onB.statusCode, 429)
  })
})

t.test('throttle: false turns the defence off', async (t) => {
  const ctx = await buildApp(t, { throttle: false })
  await ctx.signUp('pony', 'djangsta-secret')
  for (let i = 0; i < 7; i++) t.equal((await loginFrom(ctx, ATTACKER, 'pony', 'wrong')).statusCode, 400)
})

t.test('the example server: THROTTLE=off lets a burst of failed logins through; without it the burst gets 429', async (t) => {
  // Both servers start at once: starting one (tsx compiling it) takes a few seconds.
  const [off, on] = await Promise.all([startExampleServer(t, { THROTTLE: 'off' }), startExampleServer(t)])
  const burst = async (server: ExampleServer): Promise<Array<[number, string]>> => {
    const post = async (path: string, body: URLSearchParams): Promise<Response> =>
      await fetch(`${server.url}${path}`, { method: 'POST', body })
    t.equal((await post('/sign_up/', new URLSearchParams({ username: 'pony', password: 'djangsta-secret' }))).status, 201, 'sign-up')
    const answers: Array<[number, string]> = []
    // Twice the default limit of failures per (username, IP).
    for (let i = 0; i < 10; i++) {
      const response = await post('/o/token/', new URLSearchParams({ grant_type: 'password', username: 'pony', password: `guess-${i}`, client_id: server.clientId }))
      answers.push([response.status, (await response.json() as { error: string }).error])
    }
    return answers
  }
  const failed: [number, string] = [400, 'invalid_grant']
  const throttled: [number, string] = [429, 'slow_down']
  t.same(await burst(off), Array(10).fill(failed), 'THROTTLE=off: every guess is checked')
  t.same(await burst(on), [...Array(5).fill(failed), ...Array(5).fill(throttled)], 'by default: 429 after five failures')
  for (const server of [off, on]) t.equal(await server.stop(), 0, 'SIGTERM: the server closes and exits with 0')
})
