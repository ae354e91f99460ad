/**
 * Expired-row cleanup at scale: batches that yield to the event loop between them (the CLI's `tokens
 * clear`, and the optional in-process `cleanup` option, off by default).
 */
import { setTimeout as delay } from 'node:timers/promises'
import Fastify from 'fastify'
import t from 'tap'
import oauth2, { MemoryStore, type OAuth2Store } from '../lib/index.js'
import { deleteExpired } from '../lib/cleanup.js'
import { forEachStore } from './fixtures/stores.js'
import { makeClient, makeToken } from './fixtures/store-contract.js'

const T0 = Date.UTC(2026, 0, 1)

/** `count` token records that expired before T0, and one that is live. */
async function seed (store: OAuth2Store, count: number): Promise<string> {
  const client = makeClient()
  await store.createClient(client)
  for (let i = 0; i < count; i++) {
    await store.createToken(makeToken(client.id, null, { accessExpiresAt: T0 - 10, refreshExpiresAt: T0 - 5, createdAt: T0 - 20 }))
  }
  const live = makeToken(client.id, null, { accessExpiresAt: T0 + 3_600_000 })
  await store.createToken(live)
  return live.accessTokenHash
}

forEachStore(t, async (t, open) => {
  t.test('deleteExpired clears every expired row in batches, yielding to the event loop between them', async (t) => {
    const store = await open(t)
    const live = await seed(store, 25)
    await store.hitThrottle('ended', 1, T0 - 100)
    await store.hitThrottle('live', 60_000, T0)
    const turns: number[] = []
    let deleting = true
    // A callback scheduled for the next turn of the event loop: it runs between two batches, before the end.
    const tick = (): void => { if (deleting) { turns.push(1); setImmediate(tick) } }
    setImmediate(tick)
    const result = await deleteExpired(store, T0, 10)
    deleting = false
    t.same(result, { tokens: 25, throttles: 1, codesAndSessions: 0 })
    t.ok(turns.length >= 2, `the event loop ran between batches (${turns.length} turns)`)
    t.not(await store.findByAccessTokenHash(live), null, 'the live token stays')
    t.not(await store.getThrottle('live', T0), null)
    t.same(await deleteExpired(store, T0, 10), { tokens: 0, throttles: 0, codesAndSessions: 0 }, 'nothing left')
  })
})

t.test('the cleanup option deletes expired rows every interval, and stops with the app', async (t) => {
  const store = new MemoryStore()
  const live = await seed(store, 3)
  let calls = 0
  const deleteExpiredTokens = store.deleteExpiredTokens.bind(store)
  store.deleteExpiredTokens = async (now, limit) => { calls++; return await deleteExpiredTokens(now, limit) }
  const app = Fastify()
  await app.register(oauth2, { store, now: () => T0, cleanup: { interval: 1, batchSize: 2 } })
  await app.ready()
  while (calls < 2) await delay(50)
  t.not(await store.findByAccessTokenHash(live), null)
  t.equal(await deleteExpiredTokens(T0, 100), 0, 'every expired record was deleted')
  await app.close()
  const after = calls
  await delay(1500)
  t.equal(calls, after, 'no run after close')
})

t.test('a failing cleanup run is logged, and the next one runs', async (t) => {
  const store = new MemoryStore()
  let calls = 0
  store.deleteExpiredTokens = async () => {
    calls++
    if (calls === 1) throw new Error('database down')
    return 0
  }
  const logged: string[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { logged.push(line) } } } })
  t.teardown(() => app.close())
  await app.register(oauth2, { store, cleanup: { interval: 1 } })
  await app.ready()
  while (calls < 2) await delay(50)
  t.match(logged.join(''), /the periodic cleanup failed/)
})

t.test('a run that takes longer than the interval is not overlapped', async (t) => {
  const store = new MemoryStore()
  let running = 0
  let most = 0
  let runs = 0
  store.deleteExpiredTokens = async () => {
    running++
    most = Math.max(most, running)
    await delay(2200)
    running--
    runs++
    return 0
  }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(oauth2, { store, cleanup: { interval: 1 } })
  await app.ready()
  while (runs < 1) await delay(50)
  t.equal(most, 1, 'one run at a time, though the timer fired meanwhile')
})

t.test('cleanup options are checked', async (t) => {
  for (const cleanup of [{}, { interval: 0 }, { interval: 1, batchSize: 0 }, 'often']) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(oauth2, { store: new MemoryStore(), cleanup: cleanup as { interval: number } }) }, { code: 'FST_OAUTH2_INVALID_OPTION', message: /cleanup/ })
  }
})
