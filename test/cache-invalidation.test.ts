/**
 * A token cache safe across instances on PostgreSQL: a revocation made by one instance, or by the CLI,
 * reaches every other instance's cache through LISTEN/NOTIFY, long before the cache's TTL; when the
 * listening connection drops, the cache is flushed, and it listens again by itself.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import oauth2, { createClient, KyselyStore, openDatabase, type RevocationEvent } from '../lib/index.js'
import { startPostgres } from './fixtures/postgres.js'

const server = await startPostgres(t)
/** How long a test waits for a revocation to arrive before failing (the cache would keep it 300 s). */
const DEADLINE_MS = 3000

interface Instance { app: FastifyInstance, store: KyselyStore, lookups: () => number }

async function instance (t: Test, url: string, tablePrefix: string): Promise<Instance> {
  const store = await KyselyStore.open(url, { tablePrefix })
  let lookups = 0
  const find = store.findByAccessTokenHash.bind(store)
  store.findByAccessTokenHash = async (hash) => { lookups++; return await find(hash) }
  const app = Fastify()
  await app.register(oauth2, { store, throttle: false, tokenCache: { max: 100, ttl: 300 } })
  app.get('/me', { onRequest: app.oauth2.authenticate() }, async (request) => request.user)
  await app.ready()
  t.teardown(async () => {
    await app.close()
    await store.close()
  })
  return { app, store, lookups: () => lookups }
}

const me = async (app: FastifyInstance, token: string): Promise<number> =>
  (await app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })).statusCode

/** Polls until `app` refuses `token`; resolves to the milliseconds it took, or fails past the deadline. */
async function refusedWithin (t: Test, app: FastifyInstance, token: string, what: string): Promise<void> {
  const start = Date.now()
  while (await me(app, token) === 200) {
    if (Date.now() - start > DEADLINE_MS) {
      t.fail(`${what}: still accepted after ${DEADLINE_MS} ms`)
      return
    }
    await delay(2)
  }
  t.pass(`${what}: refused after ${Date.now() - start} ms`)
}

if (server !== null) {
  t.test('revocations on one instance or by the CLI reach the other instance\'s cache at once', async (t) => {
    const tablePrefix = `t_${randomBytes(6).toString('hex')}_`
    const a = await instance(t, server.url, tablePrefix)
    const b = await instance(t, server.url, tablePrefix)
    const { client } = await createClient(a.store, { name: 'spa', type: 'public' })
    t.equal((await a.app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'pony', password: 'djangsta-secret' } })).statusCode, 201)
    const login = async (): Promise<{ access_token: string, refresh_token: string }> =>
      (await a.app.inject({ method: 'POST', url: '/o/token/', payload: { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: client.id } })).json()

    const first = await login()
    t.equal(await me(b.app, first.access_token), 200)
    const before = b.lookups()
    t.equal(await me(b.app, first.access_token), 200)
    t.equal(b.lookups(), before, 'cached on B')
    await a.app.inject({ method: 'POST', url: '/o/revoke_token/', payload: { token: first.access_token, client_id: client.id } })
    await refusedWithin(t, b.app, first.access_token, 'a revocation on A')

    const second = await login()
    t.equal(await me(b.app, second.access_token), 200)
    const rotated = await a.app.inject({ method: 'POST', url: '/o/token/', payload: { grant_type: 'refresh_token', refresh_token: second.refresh_token, client_id: client.id } })
    t.equal(rotated.statusCode, 200)
    await refusedWithin(t, b.app, second.access_token, 'a rotation on A')

    // The CLI, or any other process, on its own store: no listener of its own, its revocations announced.
    const cli = await KyselyStore.open(server.url, { tablePrefix, migrate: false })
    t.teardown(async () => await cli.close())
    const third = await login()
    t.equal(await me(b.app, third.access_token), 200)
    const user = await cli.findUserByUsernameKey('pony')
    t.ok(await cli.revokeUserTokens(user!.id, Date.now()) > 0)
    await refusedWithin(t, b.app, third.access_token, 'a revocation by another process')
  })

  t.test('a dropped listening connection flushes the cache, and listening resumes', async (t) => {
    const tablePrefix = `t_${randomBytes(6).toString('hex')}_`
    const b = await instance(t, server.url, tablePrefix)
    const other = await KyselyStore.open(server.url, { tablePrefix, migrate: false })
    t.teardown(async () => await other.close())
    const { client } = await createClient(other, { name: 'spa', type: 'public' })
    t.equal((await b.app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'pony', password: 'djangsta-secret' } })).statusCode, 201)
    const login = async (): Promise<string> =>
      (await b.app.inject({ method: 'POST', url: '/o/token/', payload: { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: client.id } })).json().access_token
    const token = await login()
    t.equal(await me(b.app, token), 200)
    const cached = b.lookups()
    t.equal(await me(b.app, token), 200)
    t.equal(b.lookups(), cached, 'cached')

    const { db } = await openDatabase(server.url)
    t.teardown(async () => await db.destroy())
    const killed = await sql<{ ok: boolean }>`select pg_terminate_backend(pid) as ok from pg_stat_activity where query like ${`LISTEN "${tablePrefix}%`}`.execute(db)
    t.same(killed.rows, [{ ok: true }], 'the listening connection is gone')
    const start = Date.now()
    while (b.lookups() === cached) {
      if (Date.now() - start > DEADLINE_MS) break
      await me(b.app, token)
      await delay(2)
    }
    t.ok(b.lookups() > cached, 'the cache was flushed: the token is asked of the store again')

    // Listening again: a revocation elsewhere reaches the cache.
    let listening = false
    while (!listening && Date.now() - start < DEADLINE_MS) {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where query like ${`LISTEN "${tablePrefix}%`}`.execute(db)
      listening = rows[0]!.n === 1
      if (!listening) await delay(10)
    }
    t.ok(listening, 'it listens again')
    const next = await login()
    t.equal(await me(b.app, next), 200)
    await other.revokeFamily((await other.findByAccessTokenHash((await import('../lib/crypto/tokens.js')).hashToken(next)))!.token.familyId, Date.now())
    await refusedWithin(t, b.app, next, 'a revocation after the reconnection')
  })
}

if (server !== null) {
  t.test('a revocation whose announcement fails is still made (other caches keep the token until their TTL)', async (t) => {
    const store = await KyselyStore.open(server.url, { tablePrefix: `t_${randomBytes(6).toString('hex')}_` })
    t.teardown(async () => await store.close())
    const { client } = await createClient(store, { name: 'svc', type: 'public' })
    // PostgreSQL refuses a NOTIFY payload over 8000 bytes: a user id that long makes the announcement fail.
    const userId = 'u'.repeat(9000)
    const { makeToken } = await import('./fixtures/store-contract.js')
    const token = makeToken(client.id, userId)
    await store.createToken(token)
    t.equal(await store.revokeUserTokens(userId, Date.now()), 1)
    t.not((await store.findByAccessTokenHash(token.accessTokenHash))?.token.revokedAt, null)
  })
}

t.test('the cache applies each kind of revocation event', async (t) => {
  const { TokenCache } = await import('../lib/auth/token-cache.js')
  const cache = new TokenCache({ max: 10, ttl: 60 })
  const put = (hash: string, tokenId: string, familyId: string, userId: string, clientId: string): void =>
    cache.set(hash, { tokenId, familyId, userId, clientId, scopes: [], user: null, accessExpiresAt: 1e13 }, cache.epoch, 0)
  put('h1', 't1', 'f1', 'u1', 'c1')
  put('h2', 't2', 'f2', 'u2', 'c2')
  put('h3', 't3', 'f3', 'u3', 'c3')
  put('h4', 't4', 'f4', 'u4', 'c4')
  const events: RevocationEvent[] = [{ kind: 'token', id: 't1' }, { kind: 'family', id: 'f2' }, { kind: 'user', id: 'u3' }, { kind: 'client', id: 'c4' }]
  for (const event of events) cache.apply(event)
  t.equal(cache.size, 0, 'each named its entry')
  put('h5', 't5', 'f5', 'u5', 'c5')
  cache.apply({ kind: 'all' })
  t.equal(cache.size, 0, 'all: everything')
})

t.test('on SQLite, another process\'s write to the file empties the cache within moments', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'oauth2-watch-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const url = `sqlite:${join(dir, 'oauth2.sqlite')}`
  const b = await instance(t, url, 'oauth2_')
  // The CLI, on a connection of its own.
  const cli = await KyselyStore.open(url)
  t.teardown(async () => await cli.close())
  const { client } = await createClient(cli, { name: 'spa', type: 'public' })
  t.equal((await b.app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'pony', password: 'djangsta-secret' } })).statusCode, 201)
  const token = (await b.app.inject({ method: 'POST', url: '/o/token/', payload: { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: client.id } })).json().access_token
  t.equal(await me(b.app, token), 200)
  const user = await cli.findUserByUsernameKey('pony')
  t.equal(await cli.revokeUserTokens(user!.id, Date.now()), 1)
  await refusedWithin(t, b.app, token, 'a revocation by another connection to the file')
})

t.test('a SQLite watch outlives its connection quietly', async (t) => {
  const store = await KyselyStore.open('sqlite::memory:')
  const events: RevocationEvent[] = []
  const stop = await store.watchRevocations!((event) => events.push(event))
  await store.close()
  await delay(150)
  t.same(events, [{ kind: 'all' }], 'one last "drop everything", then nothing, and no crash')
  await stop()
})
