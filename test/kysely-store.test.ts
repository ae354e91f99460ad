import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { CamelCasePlugin, Migrator, sql } from 'kysely'
import type { Kysely } from 'kysely'
import t from 'tap'
import type { Test } from 'tap'
import { openDatabase, redactUrl } from '../lib/store/kysely/connect.js'
import { KyselyStore } from '../lib/store/kysely/kysely-store.js'
import { migrationTableNames, OAuth2MigrationProvider } from '../lib/store/kysely/migrations.js'
import type { NewToken } from '../lib/store/store.js'
import { accessLookup, makeClient, makeToken, makeUser } from './fixtures/store-contract.js'

async function memoryDb (t: Test): Promise<Kysely<any>> {
  const { db } = await openDatabase('sqlite::memory:')
  t.teardown(async () => await db.destroy())
  return db
}

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'oauth2-kysely-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function tableNames (db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from sqlite_master where type = 'table' order by name`.execute(db)
  return rows.map((row) => row.name)
}

t.test('migrate() is idempotent', async (t) => {
  const db = await memoryDb(t)
  const store = new KyselyStore({ db })
  await store.migrate()
  await store.migrate()
  t.same(await tableNames(db), [
    'oauth2_authorization_codes', 'oauth2_clients', 'oauth2_migrations', 'oauth2_migrations_lock', 'oauth2_sessions', 'oauth2_throttles',
    'oauth2_tokens', 'oauth2_users'
  ])
  const { rows } = await sql<{ name: string }>`select name from oauth2_migrations order by name`.execute(db)
  t.same(rows.map((row) => row.name), ['0001_initial', '0002_throttles', '0003_refresh_exchanges', '0004_username_case_fold', '0005_client_redirect_uris',
    '0006_authorization_codes', '0007_sessions', '0008_client_origins', '0009_drop_token_parent_index', '0010_lean_throttles',
    '0011_user_sessions_index'])
  const { rows: indexes } = await sql<{ name: string }>`
    select name from sqlite_master where type = 'index' and tbl_name = 'oauth2_tokens' and name not like 'sqlite_%' order by name`.execute(db)
  t.same(indexes.map((index) => index.name), ['oauth2_tokens_access_token_hash_idx', 'oauth2_tokens_client_id_idx',
    'oauth2_tokens_expires_at_idx', 'oauth2_tokens_family_id_idx', 'oauth2_tokens_refresh_token_hash_idx', 'oauth2_tokens_user_id_idx'],
  'the token indexes that queries use, and no other')
  const { rows: userIndexes } = await sql<{ name: string }>`
    select name from sqlite_master where type = 'index' and tbl_name in ('oauth2_sessions', 'oauth2_authorization_codes') and name not like 'sqlite_%' order by name`.execute(db)
  t.same(userIndexes.map((index) => index.name), ['oauth2_authorization_codes_client_id_idx', 'oauth2_authorization_codes_expires_at_idx',
    'oauth2_authorization_codes_user_id_idx', 'oauth2_sessions_expires_at_idx', 'oauth2_sessions_user_id_idx'],
  'sessions and codes by expiry (the cleanup) and by user (log out everywhere)')
})

t.test('0010: the throttle counters move to a WITHOUT ROWID table with no index, every counter kept', async (t) => {
  const db = await memoryDb(t)
  const migrator = new Migrator({ db, provider: new OAuth2MigrationProvider('oauth2_'), ...migrationTableNames('oauth2_') })
  t.equal((await migrator.migrateTo('0009_drop_token_parent_index')).error, undefined)
  const before = new KyselyStore({ db })
  const now = 1_000_000
  for (let i = 0; i < 3; i++) await before.hitThrottle('failing', 60_000, now)
  await before.hitThrottle('ended', 1000, now - 5000)
  await before.migrate()
  const { rows: [table] } = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = 'oauth2_throttles'`.execute(db)
  t.match(table?.sql, /without rowid$/i)
  const { rows: indexes } = await sql<{ name: string }>`
    select name from sqlite_master where type = 'index' and tbl_name = 'oauth2_throttles' and name not like 'sqlite_%'`.execute(db)
  t.same(indexes, [], 'no index but the key')
  const store = new KyselyStore({ db })
  t.same(await store.getThrottle('failing', now), { count: 3, resetAt: now + 60_000 }, 'a live counter came over')
  t.equal(await store.getThrottle('ended', now), null)
  t.same(await store.hitThrottle('failing', 60_000, now + 1), { count: 4, resetAt: now + 60_000 }, 'and goes on counting')
  t.equal(await store.deleteExpiredThrottles(now, 10), 1, 'the ended one is still cleaned up')
  t.same((await sql<{ key: string }>`select key from oauth2_throttles`.execute(db)).rows, [{ key: 'failing' }])
})

t.test('every table and index carries a custom prefix; stores with different prefixes share nothing', async (t) => {
  const db = await memoryDb(t)
  const acme = new KyselyStore({ db, tablePrefix: 'acme_' })
  const other = new KyselyStore({ db, tablePrefix: 'Other_' })
  await acme.migrate()
  await other.migrate()
  t.same((await tableNames(db)).filter((name) => name.startsWith('acme_')), [
    'acme_authorization_codes', 'acme_clients', 'acme_migrations', 'acme_migrations_lock', 'acme_sessions', 'acme_throttles',
    'acme_tokens', 'acme_users'
  ])
  t.notOk((await tableNames(db)).some((name) => name.startsWith('oauth2_')))
  const { rows: indexes } = await sql<{ name: string }>`
    select name from sqlite_master where type = 'index' and name not like 'sqlite_%' order by name`.execute(db)
  t.ok(indexes.length >= 8)
  t.ok(indexes.every((index) => /^(acme|Other)_/.test(index.name)), 'index names are prefixed')
  const user = makeUser('pony')
  t.same(await acme.createUser(user), user)
  t.equal(await other.findUserById(user.id), null)
  t.same(await other.createUser(user), user, 'the same key is free in the other store')
})

t.test('the initial migration also runs inside a transaction of the caller\'s', async (t) => {
  const db = await memoryDb(t)
  const migrations = await new OAuth2MigrationProvider('x_').getMigrations()
  await db.transaction().execute(async (trx) => await migrations['0001_initial']!.up(trx))
  t.same(await tableNames(db), ['x_clients', 'x_tokens', 'x_users'])
})

t.test('the constructor rejects bad options with a TypeError naming the option', async (t) => {
  const db = await memoryDb(t)
  for (const tablePrefix of ['', '1x_', 'a-b', 'oauth2;drop', 'sp ace', 42, ['abc']]) {
    t.throws(() => new KyselyStore({ db, tablePrefix: tablePrefix as string }), {
      name: 'TypeError',
      message: /option "tablePrefix" must match/
    }, `tablePrefix ${JSON.stringify(tablePrefix)}`)
  }
  for (const bad of [undefined, null, {}, 'sqlite::memory:']) {
    t.throws(() => new KyselyStore({ db: bad as unknown as Kysely<any> }), {
      name: 'TypeError',
      message: /option "db" must be a Kysely instance/
    })
  }
  t.doesNotThrow(() => new KyselyStore({ db, tablePrefix: '_x9' }))
})

t.test('the store leaves the app\'s Kysely instance open', async (t) => {
  const db = await memoryDb(t)
  const store = new KyselyStore({ db })
  await store.migrate()
  await store.createUser(makeUser('pony'))
  const { rows } = await sql<{ n: number }>`select count(*) as n from oauth2_users`.execute(db)
  t.equal(rows[0]?.n, 1, 'the app still queries its instance')
  await store.close()
  const after = await sql<{ n: number }>`select count(*) as n from oauth2_users`.execute(db)
  t.equal(after.rows[0]?.n, 1, 'close() of a store on the app\'s instance leaves it open')
})

t.test('the store ignores the app instance\'s plugins (CamelCasePlugin)', async (t) => {
  const db = (await memoryDb(t)).withPlugin(new CamelCasePlugin())
  const store = new KyselyStore({ db })
  await store.migrate()
  const user = makeUser('pony')
  const client = makeClient({ scopes: ['read'] })
  const token = makeToken(client.id, user.id)
  t.same(await store.createUser(user), user)
  await store.createClient(client)
  await store.createToken(token)
  t.same(await store.findClient(client.id), client)
  t.strictSame(await store.findByAccessTokenHash(token.accessTokenHash), accessLookup(token, user))
})

t.test('two connections migrating one fresh SQLite file at once both succeed, and migrate it once', async (t) => {
  const url = `sqlite:${join(tempDir(t), 'fresh.db')}`
  const opened = await Promise.all([openDatabase(url), openDatabase(url)])
  t.teardown(async () => { for (const { db } of opened) await db.destroy() })
  // One thread: a connection waiting for the other's lock blocks the loop the other needs to finish, so
  // it waits briefly and gets SQLITE_BUSY, as a second process would once the first one commits.
  for (const { sqlite } of opened) (sqlite as unknown as { pragma: (source: string) => unknown }).pragma('busy_timeout = 50')
  const stores = opened.map(({ db }) => new KyselyStore({ db }))
  const results = await Promise.allSettled(stores.map(async (store) => await store.migrate()))
  t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled'])
  const { rows } = await sql<{ name: string }>`select name from oauth2_migrations order by name`.execute(opened[0]!.db)
  t.same(rows.map((row) => row.name), ['0001_initial', '0002_throttles', '0003_refresh_exchanges', '0004_username_case_fold', '0005_client_redirect_uris',
    '0006_authorization_codes', '0007_sessions', '0008_client_origins', '0009_drop_token_parent_index', '0010_lean_throttles',
    '0011_user_sessions_index'])
  t.same(await tableNames(opened[1]!.db), [
    'oauth2_authorization_codes', 'oauth2_clients', 'oauth2_migrations', 'oauth2_migrations_lock', 'oauth2_sessions', 'oauth2_throttles',
    'oauth2_tokens', 'oauth2_users'
  ])
})

t.test('migrate() gives up with SQLITE_BUSY when another connection keeps the file locked', async (t) => {
  const url = `sqlite:${join(tempDir(t), 'locked.db')}`
  const holder = await openDatabase(url)
  const migrating = await openDatabase(url)
  t.teardown(async () => { await holder.db.destroy(); await migrating.db.destroy() })
  ;(migrating.sqlite as unknown as { pragma: (source: string) => unknown }).pragma('busy_timeout = 10')
  const raw = holder.sqlite as unknown as { exec: (source: string) => unknown }
  raw.exec('begin immediate')
  await t.rejects(new KyselyStore({ db: migrating.db }).migrate(), { code: 'SQLITE_BUSY' })
  raw.exec('rollback')
  t.same(await tableNames(migrating.db), [], 'nothing created')
})

t.test('migrate() rejects with the failing migration\'s error, changing nothing', async (t) => {
  const db = await memoryDb(t)
  await sql`create table oauth2_tokens (id text primary key)`.execute(db)
  const store = new KyselyStore({ db })
  await t.rejects(store.migrate(), /table "oauth2_tokens" already exists/)
  t.notOk((await tableNames(db)).includes('oauth2_users'), 'the migration ran in a transaction')
})

t.test('a rotation whose insert fails leaves the current record unrotated', async (t) => {
  const db = await memoryDb(t)
  const store = new KyselyStore({ db })
  await store.migrate()
  const client = makeClient()
  await store.createClient(client)
  const first = makeToken(client.id, null)
  const other = makeToken(client.id, null)
  await store.createToken(first)
  await store.createToken(other)
  const clash = makeToken(client.id, null, { parentId: first.id, accessTokenHash: other.accessTokenHash })
  await t.rejects(store.rotateRefreshToken(first.id, clash, 5, { since: 0, maxExchanges: 1 }))
  t.equal((await store.findByRefreshTokenHash(first.refreshTokenHash!))?.rotatedAt, null)
})

t.test('deleteExpiredTokens with a limit below 1 deletes nothing', async (t) => {
  const db = await memoryDb(t)
  const store = new KyselyStore({ db })
  await store.migrate()
  const client = makeClient()
  await store.createClient(client)
  await store.createToken(makeToken(client.id, null, { accessExpiresAt: 1, refreshExpiresAt: 1 }))
  t.equal(await store.deleteExpiredTokens(100, 0), 0)
  t.equal(await store.deleteExpiredTokens(100, -1), 0, 'SQLite would read LIMIT -1 as no limit')
  t.equal(await store.deleteExpiredTokens(100, Number.NaN), 0)
  t.equal(await store.deleteExpiredTokens(100, 0.5), 1, 'a fractional limit rounds up')
})

t.test('openDatabase', async (t) => {
  t.test('SQLite file: WAL, no blocking busy timeout, foreign keys, parent directory created', async (t) => {
    const path = join(tempDir(t), 'a', 'b', 'oauth2.db')
    const { db, dialect } = await openDatabase(`sqlite:${path}`)
    t.teardown(async () => await db.destroy())
    t.equal(dialect, 'sqlite')
    t.same((await sql`pragma journal_mode`.execute(db)).rows, [{ journal_mode: 'wal' }])
    t.same((await sql`pragma busy_timeout`.execute(db)).rows, [{ timeout: 0 }], 'the store waits for locks asynchronously')
    t.same((await sql`pragma foreign_keys`.execute(db)).rows, [{ foreign_keys: 1 }])
  })

  t.test('SQLite in memory: no WAL', async (t) => {
    const db = await memoryDb(t)
    t.same((await sql`pragma journal_mode`.execute(db)).rows, [{ journal_mode: 'memory' }])
    t.same((await sql`pragma foreign_keys`.execute(db)).rows, [{ foreign_keys: 1 }])
  })

  t.test('a relative SQLite path is relative to the working directory', async (t) => {
    const dir = tempDir(t)
    const cwd = process.cwd()
    process.chdir(dir)
    t.teardown(() => process.chdir(cwd))
    const { db } = await openDatabase('sqlite:data/rel.db')
    t.teardown(async () => await db.destroy())
    await sql`create table x (id integer)`.execute(db)
    const { db: again } = await openDatabase(`sqlite:${join(dir, 'data', 'rel.db')}`)
    t.teardown(async () => await again.destroy())
    t.same((await tableNames(again)), ['x'])
  })

  t.test('a PostgreSQL URL opens a pool lazily: no connection until the first query', async (t) => {
    for (const url of ['postgres://app:s3cret@127.0.0.1:1/oauth2', 'postgresql://127.0.0.1:1/oauth2']) {
      const { db, dialect } = await openDatabase(url)
      t.equal(dialect, 'postgres')
      await db.destroy()
    }
  })

  t.test('any other URL is rejected with the accepted forms, never the password', async (t) => {
    for (const url of ['mysql://root:hunter2@db/app', 'sqlite:', 'sqlite', 'file:oauth2.db', 'postgres:/x', '']) {
      await t.rejects(openDatabase(url), { message: /expected "sqlite:<path>".*"postgres:\/\/…" \/ "postgresql:\/\/…"/ }, url)
    }
    const err = await openDatabase('mysql://root:hunter2@db/app').catch((err: Error) => err)
    t.notMatch((err as Error).message, /hunter2/)
    t.match((err as Error).message, /mysql:\/\/root:\*\*\*@db\/app/)
  })
})

t.test('redactUrl hides a password', async (t) => {
  t.equal(redactUrl('postgres://app:s3cret@db.example:5432/oauth2'), 'postgres://app:***@db.example:5432/oauth2')
  t.equal(redactUrl('postgresql://app:p%40ss@db/oauth2?sslmode=require'), 'postgresql://app:***@db/oauth2?sslmode=require')
  t.equal(redactUrl('postgres://app@db/oauth2'), 'postgres://app@db/oauth2', 'no password: unchanged')
  t.equal(redactUrl('sqlite:./data/oauth2.db'), 'sqlite:./data/oauth2.db')
  // Not a valid URL (port out of range, raw "@" in the password): redacted by pattern.
  t.equal(redactUrl('postgres://app:se@cret@db:99999/oauth2'), 'postgres://app:***@db:99999/oauth2')
  t.equal(redactUrl('not a url'), 'not a url')
})

/**
 * Two processes, each with its own better-sqlite3 connection to one WAL file (as two server processes
 * would have), race to rotate the same records. Processes, not two connections in this one: a connection
 * waiting on SQLite's busy timeout blocks its whole thread, so here it would also block the other
 * connection's transaction it waits for, until the timeout fails it with SQLITE_BUSY.
 */
t.test('rotateRefreshToken is a compare-and-swap across two SQLite connections', async (t) => {
  const url = `sqlite:${join(tempDir(t), 'shared.db')}`
  const { db } = await openDatabase(url)
  t.teardown(async () => await db.destroy())
  const store = new KyselyStore({ db })
  await store.migrate()
  const user = makeUser('pony')
  const client = makeClient()
  await store.createUser(user)
  await store.createClient(client)

  const ROUNDS = 5
  const PER_PROCESS = 5
  const jobs: Array<{ currentId: string, nexts: NewToken[][] }> = []
  for (let round = 0; round < ROUNDS; round++) {
    const current = makeToken(client.id, user.id)
    await store.createToken(current)
    const next = (): NewToken => makeToken(client.id, user.id, { familyId: current.familyId, parentId: current.id })
    jobs.push({ currentId: current.id, nexts: [0, 1].map(() => Array.from({ length: PER_PROCESS }, next)) })
  }

  const children = [0, 1].map((index) => startRacer({
    url,
    connectUrl: new URL('../lib/store/kysely/connect.ts', import.meta.url).href,
    storeUrl: new URL('../lib/store/kysely/kysely-store.ts', import.meta.url).href,
    jobs: jobs.map((job) => ({ currentId: job.currentId, nexts: job.nexts[index] }))
  }))
  t.teardown(() => { for (const child of children) child.kill() })
  const ready = children.map(async (child) => await nextMessage(child))
  t.same(await Promise.all(ready), ['ready', 'ready'])
  const done = children.map(async (child) => await nextMessage(child) as RacerResult[][])
  for (const child of children) child.send('go')
  const [a, b] = await Promise.all(done)

  for (let round = 0; round < ROUNDS; round++) {
    const results = [...a![round]!, ...b![round]!]
    t.same(results.filter((r) => 'error' in r), [], `round ${round}: no rotation failed`)
    t.equal(results.filter((r) => 'won' in r && r.won).length, 1, `round ${round}: exactly one rotation won`)
    const candidates = jobs[round]!.nexts.flat()
    const inserted = await Promise.all(candidates.map(async (next) => await store.findByRefreshTokenHash(next.refreshTokenHash!)))
    t.equal(inserted.filter((r) => r !== null).length, 1, `round ${round}: exactly one successor inserted`)
  }
})

type RacerResult = { won: boolean } | { error: string }

/**
 * A racing process, started through a shell so tap's coverage tracking (which wraps node children) stays
 * out of it: it loads the store through tsx, whose compiled output would not line up with tap's.
 */
function startRacer (data: unknown): ChildProcess {
  const { NODE_V8_COVERAGE: _coverage, ...env } = process.env
  return spawn('/bin/sh', ['-c', 'unset NODE_OPTIONS NODE_V8_COVERAGE; exec "$0" "$@"', process.execPath, '--import', 'tsx', '--input-type=module', '-e', RACER_SOURCE], {
    env: { ...env, NODE_OPTIONS: '', RACER_DATA: JSON.stringify(data) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
}

async function nextMessage (child: ChildProcess): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('error', reject)
  })
}

const RACER_SOURCE = `
const data = JSON.parse(process.env.RACER_DATA)
const { openDatabase } = await import(data.connectUrl)
const { KyselyStore } = await import(data.storeUrl)
const { db } = await openDatabase(data.url)
const store = new KyselyStore({ db })
await store.findClient('warm-up')
process.send('ready')
await new Promise((resolve) => process.once('message', resolve))
const results = await Promise.all(data.jobs.map((job) => Promise.all(job.nexts.map((next) =>
  store.rotateRefreshToken(job.currentId, next, Date.now(), { since: Number.MAX_SAFE_INTEGER, maxExchanges: 1 }).then((won) => ({ won }), (err) => ({ error: String(err) }))))))
await db.destroy()
process.send(results, () => process.exit(0))
`
