/**
 * A SQLite file's background thread (lib/store/kysely/sqlite-worker.ts): a database opened with
 * `openDatabase` has its WAL copied back into the file without any commit of the app doing it, the app's
 * connection checkpoints by itself only past the backstop, the expiry cleanup's deletes run on the worker's
 * connection, and closing the database ends the worker.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { sql } from 'kysely'
import { openDatabase } from '../lib/index.js'
import { BACKSTOP_WAL_PAGES, sqliteWorkerOf, startSqliteWorker } from '../lib/store/kysely/sqlite-worker.js'
import { KyselyStore } from '../lib/index.js'
import { makeClient, makeToken } from './fixtures/store-contract.js'

function tempFile (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'oauth2-checkpoint-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'oauth2.sqlite')
}

/** Polls `condition` every 20 ms for up to `ms`; whether it became true. */
async function eventually (condition: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) return false
    await sleep(20)
  }
  return true
}

/** The nice values of this process's threads, by thread id. */
function threadPriorities (): Map<string, number> {
  const priorities = new Map<string, number>()
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      // Field 19 of stat is the nice value; the command name (field 2) may hold spaces, so split after it.
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
      priorities.set(tid, Number(fields[16]))
    } catch {}
  }
  return priorities
}

t.test('the WAL reaches the database file with no checkpoint from the app, and data_version stays put', async (t) => {
  const path = tempFile(t)
  const { db, sqlite } = await openDatabase(`sqlite:${path}`)
  const raw = sqlite as unknown as { pragma: (source: string, options?: { simple: boolean }) => unknown, exec: (source: string) => void }
  t.teardown(async () => await db.destroy())
  t.equal(raw.pragma('wal_autocheckpoint', { simple: true }), 1000, 'no worker before the first query')
  // The worker starts with Kysely's first query.
  await sql`create table t (id integer primary key, v text)`.execute(db)
  t.equal(raw.pragma('wal_autocheckpoint', { simple: true }), BACKSTOP_WAL_PAGES, 'the app connection checkpoints only past the backstop')
  const fileBefore = statSync(path).size
  const version = raw.pragma('data_version', { simple: true })
  // About 2,000 pages of WAL: far below the backstop, so only the worker can copy them into the file.
  for (let i = 0; i < 200; i++) raw.exec(`insert into t (v) values (hex(randomblob(40000)))`)
  t.ok(await eventually(() => statSync(path).size > fileBefore + 10_000_000), 'the database file holds the rows')
  t.equal(raw.pragma('data_version', { simple: true }), version, 'a checkpoint is no change by another connection (token caches keep their entries)')
  const rows = (sqlite as unknown as { prepare: (s: string) => { get: () => { n: number } } }).prepare('select count(*) as n from t').get()
  t.equal(rows.n, 200)
})

t.test('the worker runs at the lowest priority and ends when the database is closed', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const path = tempFile(t)
  const before = threadPriorities()
  const { db } = await openDatabase(`sqlite:${path}`)
  await sql`select 1`.execute(db)
  const lowered = (): string[] => [...threadPriorities()].filter(([tid, nice]) => nice === 19 && !before.has(tid)).map(([tid]) => tid)
  t.ok(await eventually(() => lowered().length === 1), 'one new thread at nice 19')
  const [worker] = lowered()
  await db.destroy()
  t.ok(await eventually(() => !threadPriorities().has(worker as string)), 'the thread is gone after db.destroy()')
})

t.test('db.destroy() resolves once the worker has closed its connection: the file can be removed at once', async (t) => {
  const path = tempFile(t)
  const { db, sqlite } = await openDatabase(`sqlite:${path}`)
  await sql`create table t (id integer primary key)`.execute(db)
  await sql`insert into t (id) values (1)`.execute(db)
  const worker = sqliteWorkerOf(sqlite)
  t.ok(worker, 'the first query started the worker')
  await worker?.ready
  await db.destroy()
  // SQLite deletes the -wal and -shm files when the last connection to the file closes.
  t.same(readdirSync(dirname(path)).sort(), ['oauth2.sqlite'], 'no connection is left open')
})

t.test('an in-memory database has no worker', async (t) => {
  const { db, sqlite } = await openDatabase('sqlite::memory:')
  t.teardown(async () => await db.destroy())
  await sql`select 1`.execute(db)
  t.equal((sqlite as unknown as { pragma: (s: string, o: { simple: boolean }) => unknown }).pragma('wal_autocheckpoint', { simple: true }), 1000, "SQLite's default")
})

t.test('a worker that cannot start gives the app connection its own checkpoints back', async (t) => {
  const settings: string[] = []
  const checkpointer = startSqliteWorker(tempFile(t), { pragma: (source: string) => settings.push(source) }, { driver: '/nonexistent/driver.js' })
  await t.rejects(checkpointer.ready)
  t.same(settings, [`wal_autocheckpoint = ${BACKSTOP_WAL_PAGES}`, 'wal_autocheckpoint = 1000'])
  checkpointer.stop()
})

t.test('stopping before the worker has started still ends it, leaving the backstop', async (t) => {
  const path = tempFile(t)
  // The file must exist for the worker to open it.
  const { db } = await openDatabase(`sqlite:${path}`)
  await sql`create table t (id integer primary key)`.execute(db)
  const settings: string[] = []
  const worker = startSqliteWorker(path, { pragma: (source: string) => settings.push(source) })
  const stopped = worker.stop()
  t.equal(worker.running, false, 'no statement is taken once stopping')
  await t.rejects(worker.run('insert into t (id) values (1)', []), { message: 'The SQLite worker thread has ended.' })
  await stopped
  await worker.ready
  t.same(settings, [`wal_autocheckpoint = ${BACKSTOP_WAL_PAGES}`], 'the app connection keeps the backstop')
  const { rows } = await sql<{ n: number }>`select count(*) as n from t`.execute(db)
  t.equal(rows[0]?.n, 0, 'nothing was written')
  await db.destroy()
})

t.test('a worker stopped before it failed leaves the app connection alone: it is being closed', async (t) => {
  const settings: string[] = []
  const checkpointer = startSqliteWorker(tempFile(t), { pragma: (source: string) => settings.push(source) }, { driver: '/nonexistent/driver.js' })
  checkpointer.stop()
  await t.rejects(checkpointer.ready)
  t.same(settings, [`wal_autocheckpoint = ${BACKSTOP_WAL_PAGES}`])
})

t.test('run() executes a statement on the worker\'s connection: changes, errors with their code, the end', async (t) => {
  const path = tempFile(t)
  const { db, sqlite } = await openDatabase(`sqlite:${path}`)
  await sql`create table t (id integer primary key)`.execute(db)
  const worker = sqliteWorkerOf(sqlite)
  if (worker === null) throw new Error('no worker')
  await worker.ready
  t.equal(await worker.run('insert into t (id) values (?), (?)', [1, 2]), 2)
  const { rows } = await sql<{ n: number }>`select count(*) as n from t`.execute(db)
  t.equal(rows[0]?.n, 2, 'the app connection sees the committed rows')
  await t.rejects(worker.run('insert into t (id) values (?)', [1]), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' })
  await worker.stop()
  // The worker's connection is closed: the app's may now have the file to itself.
  t.equal((sqlite as unknown as { pragma: (s: string, o: { simple: boolean }) => unknown }).pragma('journal_mode = DELETE', { simple: true }), 'delete')
  await db.destroy()
  t.equal(sqliteWorkerOf(sqlite), null, 'a stopped worker takes no statement')
  await t.rejects(worker.run('select 1', []), { message: 'The SQLite worker thread has ended.' })
  t.equal(sqliteWorkerOf(undefined), null)
  t.equal(sqliteWorkerOf({}), null)
})

t.test('statements out when the worker fails are rejected', async (t) => {
  const worker = startSqliteWorker(tempFile(t), { pragma: () => {} }, { driver: '/nonexistent/driver.js' })
  const out = worker.run('select 1', [])
  await t.rejects(out)
  t.equal(worker.running, false)
})

t.test('the expiry cleanup of a file store runs on the worker: the app connection sees another connection\'s change', async (t) => {
  const path = tempFile(t)
  const store = await KyselyStore.open(`sqlite:${path}`)
  t.teardown(async () => await store.close())
  const client = makeClient()
  await store.createClient(client)
  // makeToken's records end 720 hours after its T0; the fourth lives a year longer.
  const now = Date.UTC(2026, 0, 1) + 721 * 3_600_000
  for (let i = 0; i < 3; i++) await store.createToken(makeToken(client.id, null))
  await store.createToken(makeToken(client.id, null, { refreshExpiresAt: now + 365 * 86_400_000 }))
  const version = async (): Promise<unknown> => (await sql<{ data_version: number }>`pragma data_version`.execute(store.db)).rows[0]?.data_version
  const before = await version()
  t.equal(await store.deleteExpiredTokens(now, 2), 2)
  t.equal(await store.deleteExpiredTokens(now, 2), 1)
  t.not(await version(), before, 'the deletes were committed by another connection')
  const { rows } = await sql<{ n: number }>`select count(*) as n from oauth2_tokens`.execute(store.db)
  t.equal(rows[0]?.n, 1, 'the live token stays')
})
