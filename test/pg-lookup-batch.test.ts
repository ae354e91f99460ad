/** PgLookupBatch: the bearer lookups of one event-loop turn go to PostgreSQL as one query. */
import t from 'tap'
import { MAX_BATCH, PgLookupBatch } from '../lib/store/kysely/pg-lookup-batch.js'

interface Row { access_token_hash: string, id: string }

/** A pool that answers from `rows`, recording each query's hashes; `fail` makes the next query reject. */
function fakePool (rows: Row[]) {
  const queries: Array<{ name: string, text: string, hashes: string[] }> = []
  const pool = {
    fail: null as Error | null,
    queries,
    async query ({ name, text, values }: { name: string, text: string, values: unknown[] }) {
      const hashes = name === 'one' ? values as string[] : values[0] as string[]
      queries.push({ name, text, hashes })
      const failure = pool.fail
      pool.fail = null
      if (failure !== null) throw failure
      return { rows: rows.filter((row) => hashes.includes(row.access_token_hash)) }
    }
  }
  return pool
}

const ONE = { name: 'one', text: 'select … = $1' }
const MANY = { name: 'many', text: 'select … = any($1)' }
const rows: Row[] = [{ access_token_hash: 'a', id: '1' }, { access_token_hash: 'b', id: '2' }]

t.test('the lookups of one turn are one query, each asker gets its own row', async (t) => {
  const pool = fakePool(rows)
  const batch = new PgLookupBatch<Row>(pool, ONE, MANY)
  const found = await Promise.all(['a', 'b', 'a', 'missing'].map(async (hash) => await batch.find(hash)))
  t.same(found, [rows[0], rows[1], rows[0], undefined])
  t.same(pool.queries, [{ ...MANY, hashes: ['a', 'b', 'missing'] }], 'each hash asked once')
})

t.test('lookups of later turns are later queries', async (t) => {
  const pool = fakePool(rows)
  const batch = new PgLookupBatch<Row>(pool, ONE, MANY)
  t.same(await batch.find('a'), rows[0])
  t.same(await batch.find('b'), rows[1])
  t.same(await batch.find('missing'), undefined)
  t.same(pool.queries, [{ ...ONE, hashes: ['a'] }, { ...ONE, hashes: ['b'] }, { ...ONE, hashes: ['missing'] }], 'a lone lookup: the = $1 statement')
})

t.test('a failed query rejects every lookup of its batch, and the next turn queries again', async (t) => {
  const pool = fakePool(rows)
  const batch = new PgLookupBatch<Row>(pool, ONE, MANY)
  pool.fail = new Error('connection terminated')
  const results = await Promise.allSettled(['a', 'b', 'a'].map(async (hash) => await batch.find(hash)))
  t.same(results.map((r) => r.status === 'rejected' ? (r.reason as Error).message : r.status),
    ['connection terminated', 'connection terminated', 'connection terminated'])
  t.same(await batch.find('b'), rows[1])
  t.equal(pool.queries.length, 2)
})

t.test(`a burst of more than ${MAX_BATCH} hashes is split into queries of at most ${MAX_BATCH}`, async (t) => {
  const many = Array.from({ length: MAX_BATCH + 44 }, (_, i) => ({ access_token_hash: `h${i}`, id: String(i) }))
  const pool = fakePool(many)
  const batch = new PgLookupBatch<Row>(pool, ONE, MANY)
  const found = await Promise.all(many.map(async (row) => await batch.find(row.access_token_hash)))
  t.same(found, many)
  t.same(pool.queries.map((q) => q.hashes.length), [MAX_BATCH, 44])
})
