/**
 * Given the better-sqlite3 connection under its Kysely instance (`KyselyStore.open`, or `sqlite` from
 * `openDatabase`), the store runs its login queries (client, user, throttle counters, token insert) on that
 * connection directly, prepared once. What a user must never see: such a write joined to a transaction the
 * app (or the store) has open on the connection, or lost to its rollback; a write refused because the app
 * is streaming a select; an error other than the one the database gave.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { openDatabase } from '../lib/store/kysely/connect.js'
import { KyselyStore, type SqliteHandle } from '../lib/store/kysely/kysely-store.js'
import { makeClient, makeToken, makeUser } from './fixtures/store-contract.js'

/** A store on a new SQLite file, with the connection handed over, and every SQL text prepared on it. */
async function fileStore (t: Test): Promise<{ store: KyselyStore, db: Awaited<ReturnType<typeof openDatabase>>['db'], prepared: string[], raw: SqliteHandle }> {
  const dir = mkdtempSync(join(tmpdir(), 'oauth2-direct-'))
  const { db, sqlite } = await openDatabase(`sqlite:${join(dir, 'db.sqlite')}`)
  t.teardown(async () => { await db.destroy(); rmSync(dir, { recursive: true, force: true }) })
  const raw = sqlite as SqliteHandle
  const prepared: string[] = []
  const recording: SqliteHandle = {
    prepare (source) { prepared.push(source); return raw.prepare(source) },
    get inTransaction () { return raw.inTransaction }
  }
  const store = new KyselyStore({ db, sqlite: recording })
  await store.migrate()
  return { store, db, prepared, raw }
}

t.test('the login queries are prepared once on the connection and run there', async (t) => {
  const { store, prepared } = await fileStore(t)
  const client = makeClient()
  await store.createClient(client)
  const user = makeUser('pony')
  await store.createUser(user)
  for (let i = 0; i < 3; i++) {
    t.equal((await store.findClient(client.id))?.id, client.id)
    t.equal((await store.findUserByUsernameKey('pony'))?.id, user.id)
    t.same(await store.hitThrottle('k', 60_000, 1000), { count: i + 1, resetAt: 61_000 })
    await store.createToken(makeToken(client.id, user.id))
  }
  await store.clearThrottle('k')
  t.equal(await store.getThrottle('k', 1000), null)
  const counts = new Map<string, number>()
  for (const source of prepared) counts.set(source, (counts.get(source) ?? 0) + 1)
  t.ok([...counts.values()].every((count) => count === 1), 'each SQL text prepared once')
  t.ok(prepared.some((source) => /^insert into "oauth2_tokens"/.test(source)), 'the token insert among them')
  t.ok(prepared.some((source) => /^insert into "oauth2_throttles"/.test(source)), 'the counter upsert among them')
})

t.test('a write asked for while the app\'s transaction is open waits for it, and survives its rollback', async (t) => {
  const { store, db } = await fileStore(t)
  const client = makeClient()
  await store.createClient(client)
  const token = makeToken(client.id, null)
  let pending: Promise<[void, { count: number, resetAt: number }]> | undefined
  await t.rejects(db.transaction().execute(async (trx) => {
    await trx.insertInto('oauth2_throttles').values({ key: 'app', hits: 1, reset_at: 5000 }).execute()
    // Not awaited: the store's write would wait for this transaction, which would wait for it.
    pending = Promise.all([store.createToken(token), store.hitThrottle('store', 60_000, 1000)])
    await new Promise((resolve) => setTimeout(resolve, 20))
    throw new Error('the app rolls back')
  }), /the app rolls back/)
  t.same((await pending)?.[1], { count: 1, resetAt: 61_000 })
  t.ok(await store.findByRefreshTokenHash(token.refreshTokenHash as string), 'the token is stored')
  t.equal(await store.getThrottle('app', 1000), null, 'the app\'s write is rolled back')
  t.same(await store.getThrottle('store', 1000), { count: 1, resetAt: 61_000 }, 'the store\'s is not')
})

t.test('a write asked for while the app streams a select waits for the stream to end', async (t) => {
  const { store, db } = await fileStore(t)
  const client = makeClient()
  await store.createClient(client)
  await store.createClient(makeClient())
  const token = makeToken(client.id, null)
  let pending: Promise<void> | undefined
  let rows = 0
  for await (const row of db.selectFrom('oauth2_clients').select('id').stream()) {
    t.ok(row.id)
    rows++
    pending ??= store.createToken(token)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  t.equal(rows, 2)
  await pending
  t.ok(await store.findByRefreshTokenHash(token.refreshTokenHash as string), 'the token is stored')
})

t.test('the database\'s own errors come through as they are', async (t) => {
  const { store } = await fileStore(t)
  const client = makeClient()
  await store.createClient(client)
  const token = makeToken(client.id, null)
  await store.createToken(token)
  await t.rejects(store.createToken({ ...token, id: 'another-id' }), { code: /^SQLITE_CONSTRAINT/ }, 'a duplicate hash')
  await t.rejects(store.createToken(makeToken('no-such-client', null)), { code: /^SQLITE_CONSTRAINT/ }, 'an unknown client (foreign key)')
})
