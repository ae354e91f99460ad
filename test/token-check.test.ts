/**
 * The fast bearer check of KyselyStore: `findByAccessTokenHash` compiled once; on SQLite (with the
 * `sqlite` option) prepared once on the raw better-sqlite3 connection; on PostgreSQL (with the `pgPool`
 * option) a named prepared statement. Without the options it runs the compiled query through Kysely: the
 * store contract suites on SQLite and PostgreSQL cover that path.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import t from 'tap'
import type { Test } from 'tap'
import { KyselyStore, openDatabase, type PgPool, type SqliteHandle } from '../lib/index.js'
import { buildApp, loggedIn } from './fixtures/app.js'
import { startPostgres } from './fixtures/postgres.js'
import { makeClient, makeToken, makeUser, storeContract } from './fixtures/store-contract.js'
import { openSqliteStore } from './fixtures/stores.js'

/** A handle that counts the statements prepared on it. */
function countingHandle (handle: SqliteHandle): { handle: SqliteHandle, prepared: string[] } {
  const prepared: string[] = []
  return {
    prepared,
    handle: {
      prepare (source) {
        prepared.push(source)
        return handle.prepare(source)
      },
      get inTransaction () {
        return handle.inTransaction
      }
    }
  }
}

async function sqliteMemory (t: Test): Promise<{ db: Awaited<ReturnType<typeof openDatabase>>['db'], sqlite: SqliteHandle }> {
  const { db, sqlite } = await openDatabase('sqlite::memory:')
  t.teardown(async () => await db.destroy())
  t.ok(sqlite, 'openDatabase hands out the SQLite connection')
  return { db, sqlite: sqlite as SqliteHandle }
}

t.test('the store contract holds with the fast path: SQLite in memory', async (t) => {
  storeContract(t, async () => await openSqliteStore('memory', { fastPath: true }))
})

t.test('the store contract holds with the fast path: SQLite file (WAL)', async (t) => {
  storeContract(t, async () => await openSqliteStore('file', { fastPath: true }))
})

t.test('SQLite: the lookups of one turn share one read transaction, or the store\'s own', async (t) => {
  const { db, sqlite } = await sqliteMemory(t)
  const ran: string[] = []
  // The connection, with every run of BEGIN or COMMIT and every lookup recorded.
  const handle: SqliteHandle = {
    prepare (source) {
      const statement = sqlite.prepare(source)
      const name = source.startsWith('select') ? 'get' : source
      return new Proxy(statement, {
        get (target, key) {
          const value = Reflect.get(target, key) as unknown
          if (key !== 'run' && key !== 'get') return typeof value === 'function' ? value.bind(target) : value
          return (...args: unknown[]) => {
            ran.push(name)
            return (value as (...a: unknown[]) => unknown).apply(target, args)
          }
        }
      })
    },
    get inTransaction () {
      return sqlite.inTransaction
    }
  }
  const store = new KyselyStore({ db, sqlite: handle })
  await store.migrate()
  const client = makeClient()
  await store.createClient(client)
  const tokens = [makeToken(client.id, null), makeToken(client.id, null)]
  for (const token of tokens) await store.createToken(token)
  // The store's other statements run on the connection too: only the lookups' are looked at here.
  ran.length = 0

  const hashes = [tokens[0]!.accessTokenHash, tokens[1]!.accessTokenHash, 'unknown', tokens[0]!.accessTokenHash]
  const found = await Promise.all(hashes.map(async (hash) => await store.findByAccessTokenHash(hash)))
  t.same(found.map((f) => f?.token.id ?? null), [tokens[0]!.id, tokens[1]!.id, null, tokens[0]!.id])
  t.same(ran, ['begin', 'get', 'get', 'get', 'commit'], 'three distinct hashes, one read transaction')

  ran.length = 0
  t.equal((await store.findByAccessTokenHash(tokens[1]!.accessTokenHash))?.token.id, tokens[1]!.id)
  t.same(ran, ['get'], 'a lone lookup: no transaction of its own')

  ran.length = 0
  const inside = makeToken(client.id, null)
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('oauth2_tokens').values({
      id: inside.id, family_id: inside.familyId, parent_id: null, client_id: client.id, user_id: null, scopes: '',
      access_token_hash: inside.accessTokenHash, refresh_token_hash: null, access_expires_at: inside.accessExpiresAt,
      refresh_expires_at: null, expires_at: inside.accessExpiresAt, created_at: inside.createdAt
    }).execute()
    const both = await Promise.all([inside.accessTokenHash, tokens[0]!.accessTokenHash].map(async (hash) => await store.findByAccessTokenHash(hash)))
    t.same(both.map((f) => f?.token.id), [inside.id, tokens[0]!.id], 'read inside the open transaction, its insert included')
  })
  t.same(ran, ['get', 'get'], 'no BEGIN inside the store\'s own transaction')
})

t.test('the lookup is prepared once, on first use, and answers as the Kysely query does', async (t) => {
  const { db, sqlite } = await sqliteMemory(t)
  const { handle, prepared } = countingHandle(sqlite)
  const fast = new KyselyStore({ db, sqlite: handle })
  const plain = new KyselyStore({ db })
  t.same(prepared, [], 'the constructor touches no table')
  await t.rejects(fast.findByAccessTokenHash('x'), /no such table/, 'before migrate(): the database error')
  await fast.migrate()

  const user = makeUser('pony')
  const client = makeClient()
  await fast.createUser(user)
  await fast.createClient(client)
  const token = makeToken(client.id, user.id)
  const clientToken = makeToken(client.id, null, { refreshTokenHash: null, refreshExpiresAt: null })
  await fast.createToken(token)
  await fast.createToken(clientToken)

  for (const hash of [token.accessTokenHash, clientToken.accessTokenHash, 'unknown']) {
    t.same(await fast.findByAccessTokenHash(hash), await plain.findByAccessTokenHash(hash), hash)
  }
  t.match(await fast.findByAccessTokenHash(token.accessTokenHash), { token: { id: token.id, rotatedAt: null }, user: { id: user.id, username: 'pony' } })
  await fast.revokeToken(token.id, 5)
  t.match(await fast.findByAccessTokenHash(token.accessTokenHash), { token: { revokedAt: 5 } }, 'sees writes made through Kysely')
  // The store's other statements (the token insert) are prepared on the connection too: left out here.
  const lookups = prepared.filter((source) => source.includes(' left join ') || source === 'begin' || source === 'commit')
  t.same(lookups.map((source) => source.startsWith('select') ? 'lookup' : source), ['lookup', 'lookup', 'begin', 'commit'],
    'one failed prepare before migrate(), then the lookup and its read transaction, once for every later call')
  t.match(lookups[1], /"oauth2_tokens"/, 'the prepared SQL names the prefixed table')
  // A bare parameter would make SQLite prepare the statement again for every hash once ANALYZE has run.
  t.match(lookups[1], /= cast\(\? as text\)$/, 'the hash is compared through cast()')
  await sql`analyze`.execute(db)
  t.match(await fast.findByAccessTokenHash(clientToken.accessTokenHash), { token: { id: clientToken.id }, user: null }, 'after ANALYZE')
})

t.test('a token whose user row is gone comes back with no user, on both paths', async (t) => {
  const { db, sqlite } = await sqliteMemory(t)
  const fast = new KyselyStore({ db, sqlite })
  const plain = new KyselyStore({ db })
  await fast.migrate()
  const user = makeUser('pony')
  const client = makeClient()
  await fast.createUser(user)
  await fast.createClient(client)
  const token = makeToken(client.id, user.id)
  await fast.createToken(token)
  await db.deleteFrom('oauth2_users').where('id', '=', user.id).execute()
  for (const store of [fast, plain]) {
    const found = await store.findByAccessTokenHash(token.accessTokenHash)
    t.equal(found?.user, null, 'no user')
    t.equal(found?.token.userId, user.id, 'the token still names its user')
  }
})

t.test('SQLite: lookups of one turn still answer while the app streams a query on the connection', async (t) => {
  const { db, sqlite } = await sqliteMemory(t)
  const store = new KyselyStore({ db, sqlite })
  await store.migrate()
  const client = makeClient()
  await store.createClient(client)
  const users = [makeUser('pony'), makeUser('mule')]
  const tokens = users.map((user) => makeToken(client.id, user.id))
  for (const user of users) await store.createUser(user)
  for (const token of tokens) await store.createToken(token)

  // The app's own streamed query keeps an iterator open on the connection between its rows: better-sqlite3
  // then refuses any statement that is not a read, BEGIN included.
  const stream = db.selectFrom('oauth2_users').select('username').orderBy('username').stream()
  const rows = stream[Symbol.asyncIterator]()
  t.same((await rows.next()).value, { username: 'mule' }, 'the stream is open')
  const found = await Promise.all(tokens.map(async (token) => await store.findByAccessTokenHash(token.accessTokenHash)))
  t.same(found.map((lookup) => lookup?.user?.username), ['pony', 'mule'], 'each check finds its token and user')
  t.same((await rows.next()).value, { username: 'pony' }, 'the stream goes on')
  t.equal((await rows.next()).done, true)
  t.same(await Promise.all(tokens.map(async (token) => (await store.findByAccessTokenHash(token.accessTokenHash))?.token.id)),
    tokens.map((token) => token.id), 'and after it ends')
})

t.test('SQLite: a check reads inside a transaction the app has open on the connection', async (t) => {
  const { db, sqlite } = await sqliteMemory(t)
  const store = new KyselyStore({ db, sqlite })
  await store.migrate()
  const client = makeClient()
  const user = makeUser('pony')
  await store.createClient(client)
  await store.createUser(user)
  const token = makeToken(client.id, user.id)
  await store.createToken(token)

  const rolledBack = new Error('rolled back')
  await t.rejects(db.transaction().execute(async (trx) => {
    await trx.updateTable('oauth2_tokens').set({ revoked_at: 7 }).where('id', '=', token.id).execute()
    t.match(await store.findByAccessTokenHash(token.accessTokenHash), { token: { revokedAt: 7 } }, 'the uncommitted revocation is seen')
    throw rolledBack
  }), rolledBack)
  t.match(await store.findByAccessTokenHash(token.accessTokenHash), { token: { revokedAt: null } }, 'and gone with the rollback')
})

t.test('the prepared lookup honours the table prefix', async (t) => {
  const { db, sqlite } = await sqliteMemory(t)
  const acme = new KyselyStore({ db, sqlite, tablePrefix: 'acme_' })
  const other = new KyselyStore({ db, sqlite, tablePrefix: 'other_' })
  await acme.migrate()
  await other.migrate()
  const client = makeClient()
  await acme.createClient(client)
  const token = makeToken(client.id, null)
  await acme.createToken(token)
  t.match(await acme.findByAccessTokenHash(token.accessTokenHash), { token: { id: token.id }, user: null })
  t.equal(await other.findByAccessTokenHash(token.accessTokenHash), null)
})

t.test('the "sqlite" and "pgPool" options must be a better-sqlite3 connection and a pg Pool', async (t) => {
  const { db } = await sqliteMemory(t)
  for (const bad of [null, 'sqlite', {}, { prepare: 'no', query: 'no' }]) {
    t.throws(() => new KyselyStore({ db, sqlite: bad as unknown as SqliteHandle }), {
      name: 'TypeError',
      message: 'KyselyStore: option "sqlite" must be the better-sqlite3 Database under "db"'
    }, String(JSON.stringify(bad)))
    t.throws(() => new KyselyStore({ db, pgPool: bad as unknown as PgPool }), {
      name: 'TypeError',
      message: 'KyselyStore: option "pgPool" must be the pg Pool under "db"'
    }, String(JSON.stringify(bad)))
  }
})

t.test('PostgreSQL with the pool: the contract holds, and stores with two prefixes share one pool', async (t) => {
  const server = await startPostgres(t)
  if (server === null) return
  const { db, pgPool, sqlite } = await openDatabase(server.url)
  t.teardown(async () => await db.destroy())
  t.ok(pgPool, 'openDatabase hands out the pool')
  t.equal(sqlite, undefined)
  let n = 0
  storeContract(t, async () => {
    const store = new KyselyStore({ db, pgPool, tablePrefix: `fast${n++}_` })
    await store.migrate()
    return { store, close: async () => {} }
  })
  t.test('concurrent lookups: one query for the turn, each request its own token', async (t) => {
    const queries: string[][] = []
    // The pool as the store sees it, recording the hashes of each lookup query.
    const counted = {
      async query (config: { name: string, text: string, values: unknown[] }) {
        queries.push(config.values[0] as string[])
        return await pgPool!.query(config)
      }
    }
    const store = new KyselyStore({ db, pgPool: counted, tablePrefix: 'pgbatch_' })
    await store.migrate()
    const client = makeClient()
    await store.createClient(client)
    const user = makeUser('pony')
    await store.createUser(user)
    const tokens = Array.from({ length: 5 }, (_, i) => makeToken(client.id, i % 2 === 0 ? user.id : null))
    for (const token of tokens) await store.createToken(token)
    const asked = [...tokens, ...tokens].map((token) => token.accessTokenHash).concat(['0'.repeat(64)])
    const found = await Promise.all(asked.map(async (hash) => await store.findByAccessTokenHash(hash)))
    const expected: Array<string | null> = [...tokens, ...tokens].map((token) => token.id)
    t.same(found.map((f) => f?.token.id ?? null), [...expected, null], 'the unknown hash finds nothing')
    t.same(found.map((f) => f?.user?.username ?? null), [...tokens, ...tokens].map((token) => token.userId === null ? null : 'pony').concat([null]))
    t.equal(queries.length, 1, 'one query')
    t.equal(queries[0]!.length, 6, 'each hash once')
  })

  t.test('two prefixes, one pool: each store its own statement', async (t) => {
    const stores = [new KyselyStore({ db, pgPool, tablePrefix: 'pga_' }), new KyselyStore({ db, pgPool, tablePrefix: 'pgb_' })]
    for (const store of stores) await store.migrate()
    for (const store of stores) {
      const client = makeClient()
      await store.createClient(client)
      const token = makeToken(client.id, null)
      await store.createToken(token)
      // Several lookups, so that every connection of the pool has prepared both statements.
      for (let i = 0; i < 12; i++) t.match(await store.findByAccessTokenHash(token.accessTokenHash), { token: { id: token.id } })
      const other = stores.find((s) => s !== store) as KyselyStore
      t.equal(await other.findByAccessTokenHash(token.accessTokenHash), null)
    }
  })
})

t.test('the guard on the fast path: login, protected route, revocation', async (t) => {
  const { db, sqlite } = await sqliteMemory(t)
  const store = new KyselyStore({ db, sqlite })
  await store.migrate()
  const ctx = await buildApp(t, { store })
  const tokens = await loggedIn(ctx)
  const ok = await ctx.me(tokens.access_token)
  t.equal(ok.statusCode, 200)
  t.match(ok.json(), { user: { username: 'pony' } })
  const user = await store.findUserByUsernameKey('pony')
  t.equal(await ctx.app.oauth2.revokeUserTokens(user!.id), 1)
  const revoked = await ctx.me(tokens.access_token)
  t.equal(revoked.statusCode, 401)
  t.equal(revoked.json().error, 'invalid_token')
})

t.test('openDatabase: a SQLite file is read through a memory map, with an 8 MiB page cache and no fsync per commit (in memory: the defaults)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'oauth2-fast-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const settings = async (url: string): Promise<unknown[]> => {
    const { db, sqlite } = await openDatabase(url)
    t.teardown(async () => await db.destroy())
    const pragma = (name: string): unknown =>
      (sqlite as unknown as { pragma: (source: string, options: { simple: true }) => unknown }).pragma(name, { simple: true })
    return [pragma('mmap_size'), pragma('cache_size'), pragma('synchronous'), pragma('journal_mode')]
  }
  t.same(await settings(`sqlite:${join(dir, 'oauth2.db')}`), [0x7fff0000, -8192, 1, 'wal'], 'a map of SQLite\'s largest size, 8 MiB, NORMAL, WAL')
  t.same(await settings('sqlite::memory:'), [undefined, -16_000, 2, 'memory'], 'better-sqlite3\'s defaults: no map (nothing to map), 16 MB, FULL')
})
