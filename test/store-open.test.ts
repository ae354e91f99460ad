/**
 * `KyselyStore.open(url)`: one call gives a migrated store wired with its driver's fast bearer-lookup
 * handle, owning (and closing) its database. better-sqlite3's native addon is loaded only when a SQLite URL
 * is opened.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { KyselyStore, openDatabase, type OpenedDatabase } from '../lib/index.js'
import { hashToken } from '../lib/crypto/tokens.js'
import { startPostgres } from './fixtures/postgres.js'
import { makeClient, makeToken } from './fixtures/store-contract.js'

const REPO = fileURLToPath(new URL('..', import.meta.url))

function tempUrl (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'oauth2-open-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return `sqlite:${join(dir, 'oauth2.sqlite')}`
}

/** KyselyStore with openDatabase replaced by one that records what the store asks of its handles. */
async function spiedStore (t: Test): Promise<{ Store: typeof KyselyStore, calls: string[] }> {
  const calls: string[] = []
  const { KyselyStore: Store } = await t.mockImport<typeof import('../lib/store/kysely/kysely-store.js')>('../lib/store/kysely/kysely-store.js', {
    '../lib/store/kysely/connect.js': {
      openDatabase: async (url: string): Promise<OpenedDatabase> => {
        const opened = await openDatabase(url)
        const { sqlite, pgPool } = opened
        return {
          ...opened,
          sqlite: sqlite === undefined ? undefined : { get inTransaction () { return sqlite.inTransaction }, prepare: (source: string) => { calls.push('sqlite.prepare'); return sqlite.prepare(source) } },
          pgPool: pgPool === undefined ? undefined : { query: async (config) => { calls.push(`pg ${config.name}`); return await pgPool.query(config) } }
        }
      }
    }
  })
  return { Store, calls }
}

async function checkOneToken (t: Test, store: KyselyStore): Promise<void> {
  const client = makeClient()
  await store.createClient(client)
  const token = makeToken(client.id, null, { accessTokenHash: hashToken('access') })
  await store.createToken(token)
  t.equal((await store.findByAccessTokenHash(hashToken('access')))?.token.id, token.id)
}

t.test('on SQLite: migrated, the lookup prepared on the raw connection, the database closed by close()', async (t) => {
  const { Store, calls } = await spiedStore(t)
  const store = await Store.open(tempUrl(t))
  await checkOneToken(t, store)
  t.ok(calls.includes('sqlite.prepare'), 'the bearer lookup ran on the prepared statement')
  await store.close()
  await t.rejects(store.findClient('x'), 'closed')
})

t.test('on PostgreSQL: the lookup runs as a named statement on the pool', async (t) => {
  const server = await startPostgres(t)
  if (server === null) return
  const { Store, calls } = await spiedStore(t)
  const store = await Store.open(server.url, { tablePrefix: 'opened_' })
  t.teardown(async () => await store.close())
  await checkOneToken(t, store)
  t.same(calls, ['pg opened_find_by_access_token_hash'])
})

t.test('migrate: false leaves the database as it is; a bad URL rejects', async (t) => {
  const url = tempUrl(t)
  const store = await KyselyStore.open(url, { migrate: false })
  t.teardown(async () => await store.close())
  await t.rejects(store.findClient('x'), /no such table/)
  await store.migrate()
  t.equal(await store.findClient('x'), null)
  await t.rejects(KyselyStore.open('mysql://h/db'), /Unsupported database URL/)
})

t.test('a store on the app\'s own Kysely instance leaves it open at close()', async (t) => {
  const { db } = await openDatabase('sqlite::memory:')
  t.teardown(async () => await db.destroy())
  const store = new KyselyStore({ db })
  t.equal(store.db, db)
  await store.migrate()
  await store.close()
  t.equal(await store.findClient('x'), null, 'still usable')
})

t.test('a migration that fails closes the database it opened', async (t) => {
  const destroyed: string[] = []
  const { KyselyStore: Store } = await t.mockImport<typeof import('../lib/store/kysely/kysely-store.js')>('../lib/store/kysely/kysely-store.js', {
    '../lib/store/kysely/connect.js': {
      openDatabase: async (url: string): Promise<OpenedDatabase> => {
        const opened = await openDatabase(url)
        const destroy = opened.db.destroy.bind(opened.db)
        opened.db.destroy = async () => { destroyed.push(url); await destroy() }
        return opened
      }
    }
  })
  await t.rejects(Store.open('sqlite::memory:', { tablePrefix: '1-bad' }), /tablePrefix/)
  t.same(destroyed, ['sqlite::memory:'])
})

t.test('better-sqlite3 is loaded only when a SQLite URL is opened', async (t) => {
  const script = `
    import { createRequire } from 'node:module'
    const lib = await import('./lib/index.ts')
    const require = createRequire(import.meta.url)
    const loaded = () => Object.keys(require.cache).some((path) => path.includes('better-sqlite3'))
    const before = loaded()
    new lib.MemoryStore()
    const afterMemory = loaded()
    const { db } = await lib.openDatabase('sqlite::memory:')
    await db.destroy()
    console.log(JSON.stringify({ before, afterMemory, afterSqlite: loaded() }))
  `
  // Through a shell, outside tap's coverage tracking (which wraps node children): tsx compiles lib/
  // differently from tap's loader, and merging the two would misplace line counts.
  const { NODE_V8_COVERAGE: _coverage, ...env } = process.env
  const { stdout } = await promisify(execFile)('/bin/sh', ['-c', 'unset NODE_OPTIONS NODE_V8_COVERAGE; exec "$0" "$@"',
    process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, env: { ...env, NODE_OPTIONS: '' } })
  t.same(JSON.parse(stdout), { before: false, afterMemory: false, afterSqlite: true })
})
