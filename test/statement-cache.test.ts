/** openDatabase on SQLite prepares each SQL text once: the statement cache under Kysely's SQLite dialect. */
import type { SqliteDatabase, SqliteStatement } from 'kysely'
import { sql } from 'kysely'
import t from 'tap'
import { openDatabase } from '../lib/store/kysely/connect.js'
import { cachingStatements, STATEMENT_CACHE_SIZE } from '../lib/store/kysely/statement-cache.js'

/** A database that records what it prepares and whether it was closed; each statement knows its SQL. */
function recordingDatabase (): { database: SqliteDatabase, prepared: string[], closed: () => boolean } {
  const prepared: string[] = []
  let closed = false
  const database: SqliteDatabase = {
    prepare (source: string) {
      prepared.push(source)
      return { source } as unknown as SqliteStatement
    },
    close () { closed = true }
  }
  return { database, prepared, closed: () => closed }
}

t.test('the same SQL text gets the same statement, prepared once', async (t) => {
  const { database, prepared } = recordingDatabase()
  const cache = cachingStatements(database)
  const first = cache.prepare('select 1')
  t.equal(cache.prepare('select 1'), first)
  t.not(cache.prepare('select 2'), first)
  t.same(prepared, ['select 1', 'select 2'])
})

t.test('past its size the least recently used statement goes', async (t) => {
  const { database, prepared } = recordingDatabase()
  const cache = cachingStatements(database, 2)
  cache.prepare('a')
  cache.prepare('b')
  cache.prepare('a') // a is now the most recent
  cache.prepare('c') // evicts b
  cache.prepare('a')
  cache.prepare('c')
  t.same(prepared, ['a', 'b', 'c'], 'a and c stayed')
  cache.prepare('b')
  t.same(prepared, ['a', 'b', 'c', 'b'], 'b was prepared again')
})

t.test('close() closes the database', async (t) => {
  const { database, closed } = recordingDatabase()
  const cache = cachingStatements(database)
  cache.prepare('select 1')
  cache.close()
  t.equal(closed(), true)
})

t.test('through Kysely: reused statements see schema changes, and eviction loses nothing', async (t) => {
  const { db } = await openDatabase('sqlite::memory:')
  t.teardown(async () => await db.destroy())
  await db.schema.createTable('pets').addColumn('name', 'text').execute()
  await db.insertInto('pets').values({ name: 'pony' }).execute()
  const all = async (): Promise<unknown[]> => await db.selectFrom('pets').selectAll().execute()
  t.same(await all(), [{ name: 'pony' }])
  await db.schema.alterTable('pets').addColumn('legs', 'integer', (c) => c.defaultTo(4)).execute()
  t.same(await all(), [{ name: 'pony', legs: 4 }], 'the cached select * sees the new column')

  // More distinct texts than the cache holds, then the first one again.
  for (let i = 0; i < STATEMENT_CACHE_SIZE + 10; i++) {
    const { rows } = await sql<{ n: number }>`select ${sql.lit(i)} as n`.execute(db)
    t.equal(rows[0]?.n, i)
  }
  t.same(await all(), [{ name: 'pony', legs: 4 }], 'an evicted text is prepared again')

  // A transaction's begin/commit/rollback statements are reused as well.
  for (const outcome of ['commit', 'rollback'] as const) {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('pets').values({ name: outcome }).execute()
      if (outcome === 'rollback') throw new Error('roll back')
    }).catch(() => {})
  }
  t.same((await all()).map((row) => (row as { name: string }).name), ['pony', 'commit'], 'the rolled back insert is gone')
})
