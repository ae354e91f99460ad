/** Password hashing: pinned argon2id parameters, re-hashing, the bounded queue and load shedding. */
import { hash } from '@node-rs/argon2'
import t from 'tap'
import { PasswordHasher } from '../lib/crypto/passwords.js'
import { OAuth2Error } from '../lib/errors.js'
import { buildApp } from './fixtures/app.js'

t.test('past concurrency + maxQueue a hash is refused at once with a 503 error', async (t) => {
  const hasher = new PasswordHasher({ concurrency: 1, maxQueue: 1, retryAfter: 7 })
  const first = hasher.hash('password-1')
  const second = hasher.hash('password-2')
  t.equal(hasher.queued, 1)
  const third = hasher.hash('password-3')
  const err = await third.catch((e: unknown) => e)
  t.ok(err instanceof OAuth2Error)
  t.match(err, { statusCode: 503, error: 'temporarily_unavailable', headers: { 'retry-after': '7' } })
  const hashes = await Promise.all([first, second])
  t.equal(hasher.queued, 0)
  t.ok(await hasher.verify(hashes[1]!, 'password-2'), 'queued work still completes')
  t.notOk(await hasher.verify('not-a-phc-string', 'password-2'), 'an unreadable hash verifies as false')
  t.notOk(await hasher.verify(null, 'password-2'), 'no user: a dummy verify, false')
})

t.test('a saturated token route answers 503 with Retry-After while other routes keep answering', async (t) => {
  const ctx = await buildApp(t, { hashing: { concurrency: 1, maxQueue: 2, retryAfter: 2 } }, undefined, (app) => {
    app.get('/ping', async () => ({ pong: true }))
  })
  t.equal((await ctx.signUp('pony', 'djangsta-secret')).statusCode, 201)
  const storm = Array.from({ length: 8 }, () => ctx.login('pony', 'djangsta-secret'))
  const ping = await ctx.app.inject({ url: '/ping' })
  t.equal(ping.statusCode, 200, 'a route that does not hash answers during the storm')
  const results = await Promise.all(storm)
  const ok = results.filter((r) => r.statusCode === 200)
  const shed = results.filter((r) => r.statusCode === 503)
  t.equal(ok.length + shed.length, 8, 'every request either succeeded or was shed')
  t.equal(ok.length, 3, 'one hashing and two queued got through')
  for (const res of shed) {
    t.equal(res.headers['retry-after'], '2')
    t.equal(res.headers['cache-control'], 'no-store')
    t.same(res.json(), { error: 'temporarily_unavailable', error_description: 'The server is busy; retry later.' })
  }
})

t.test('the default queue absorbs a burst of 100 concurrent logins: they wait, none fails', async (t) => {
  const ctx = await buildApp(t)
  await ctx.signUp('pony', 'djangsta-secret')
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) =>
    ctx.login('pony', i % 2 === 0 ? 'djangsta-secret' : 'wrong-password')))
  t.same([...new Set(results.map((r) => r.statusCode))].sort(), [200, 400])
  t.equal(results.filter((r) => r.statusCode === 200).length, 50)
})

t.test('a hash made with other parameters is re-hashed with the pinned ones at login', async (t) => {
  const ctx = await buildApp(t)
  const weak = await hash('djangsta-secret', { algorithm: 2, memoryCost: 4096, timeCost: 1, parallelism: 1 })
  await ctx.store.createUser({ id: 'legacy-1', username: 'legacy', usernameKey: 'legacy', passwordHash: weak, createdAt: 0 })
  t.equal((await ctx.login('legacy', 'wrong-password')).statusCode, 400)
  t.equal((await ctx.store.findUserById('legacy-1'))!.passwordHash, weak, 'a failed login changes nothing')
  t.equal((await ctx.login('legacy', 'djangsta-secret')).statusCode, 200)
  const upgraded = (await ctx.store.findUserById('legacy-1'))!.passwordHash
  t.match(upgraded, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  t.equal((await ctx.login('legacy', 'djangsta-secret')).statusCode, 200, 'the new hash verifies')
})

t.test('an unknown user costs one verification inside the bounded queue, and no hash at all', async (t) => {
  const calls: string[] = []
  const argon2 = await import('@node-rs/argon2')
  const { PasswordHasher: Counted } = await t.mockImport<typeof import('../lib/crypto/passwords.js')>('../lib/crypto/passwords.js', {
    '@node-rs/argon2': {
      ...argon2,
      hash: async (...args: Parameters<typeof argon2.hash>) => { calls.push('hash'); return await argon2.hash(...args) },
      verify: async (...args: Parameters<typeof argon2.verify>) => { calls.push(`verify ${String(args[0]).slice(0, 31)}`); return await argon2.verify(...args) }
    }
  })
  const hasher = new Counted({ concurrency: 1, maxQueue: 0, retryAfter: 1 })
  t.equal(await hasher.verify(null, 'guess'), false)
  t.same(calls, ['verify $argon2id$v=19$m=19456,t=2,p=1$'], 'one verification at the pinned parameters, no hash')
  const busy = hasher.verify(null, 'first')
  await t.rejects(hasher.verify(null, 'second'), new OAuth2Error('temporarily_unavailable', 'The server is busy; retry later.', 503), 'the dummy verification waits for a slot like any other')
  t.equal(await busy, false)
})
