/**
 * SQLite checkpoints on a low-priority worker thread (lib/store/kysely/checkpointer.ts): a database opened
 * with `openDatabase` has its WAL copied back into the file without any commit of the app doing it, the
 * app's connection checkpoints by itself only past the backstop, and closing the database ends the worker.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { sql } from 'kysely'
import { openDatabase } from '../lib/index.js'
import { BACKSTOP_WAL_PAGES, startCheckpointer } from '../lib/store/kysely/checkpointer.js'

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

t.test('an in-memory database has no worker', async (t) => {
  const { db, sqlite } = await openDatabase('sqlite::memory:')
  t.teardown(async () => await db.destroy())
  await sql`select 1`.execute(db)
  t.equal((sqlite as unknown as { pragma: (s: string, o: { simple: boolean }) => unknown }).pragma('wal_autocheckpoint', { simple: true }), 1000, "SQLite's default")
})

t.test('a worker that cannot start gives the app connection its own checkpoints back', async (t) => {
  const settings: string[] = []
  const checkpointer = startCheckpointer(tempFile(t), { pragma: (source) => settings.push(source) }, { driver: '/nonexistent/driver.js' })
  await t.rejects(checkpointer.ready)
  t.same(settings, [`wal_autocheckpoint = ${BACKSTOP_WAL_PAGES}`, 'wal_autocheckpoint = 1000'])
  checkpointer.stop()
})

t.test('stopping before the worker has started still ends it, leaving the backstop', async (t) => {
  const path = tempFile(t)
  const { db, sqlite } = await openDatabase(`sqlite:${path}`)
  const settings: string[] = []
  const checkpointer = startCheckpointer(path, { pragma: (source) => settings.push(source) })
  checkpointer.stop()
  await checkpointer.ready
  t.same(settings, [`wal_autocheckpoint = ${BACKSTOP_WAL_PAGES}`])
  t.ok(sqlite)
  await db.destroy()
})

t.test('a worker stopped before it failed leaves the app connection alone: it is being closed', async (t) => {
  const settings: string[] = []
  const checkpointer = startCheckpointer(tempFile(t), { pragma: (source) => settings.push(source) }, { driver: '/nonexistent/driver.js' })
  checkpointer.stop()
  await t.rejects(checkpointer.ready)
  t.same(settings, [`wal_autocheckpoint = ${BACKSTOP_WAL_PAGES}`])
})
