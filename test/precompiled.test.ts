/**
 * The store's login queries are built and compiled once and then run with new values (precompiled.ts): each
 * call must bind its own values, in the order the SQL takes them, and a query that does not take what it is
 * said to take is refused when the store is made, not at the first login.
 */
import { Kysely, SqliteDialect } from 'kysely'
import Database from 'better-sqlite3'
import t from 'tap'
import type { Test } from 'tap'
import { precompiled, precompiledInsert, textParameter } from '../lib/store/kysely/precompiled.js'

interface Tables { pairs: { a: string, b: string } }

async function pairsDb (t: Test): Promise<Kysely<Tables>> {
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) })
  t.teardown(async () => await db.destroy())
  await db.schema.createTable('pairs').addColumn('a', 'text').addColumn('b', 'text').execute()
  return db
}

t.test('a query compiled once returns, at each call, the rows of that call\'s values', async (t) => {
  const db = await pairsDb(t)
  const insert = precompiledInsert<{ a: string, b: string }>(db, ['a', 'b'], (row) => db.insertInto('pairs').values(row))
  await insert({ a: 'x', b: '1' })
  await insert({ a: 'y', b: '2' })
  const byA = precompiled(db, db.selectFrom('pairs').select('b').where('a', '=', textParameter()), 1)
  t.same(await byA(['x']), [{ b: '1' }])
  t.same(await byA(['y']), [{ b: '2' }])
  t.same(await byA(['z']), [])
  t.same(await db.selectFrom('pairs').selectAll().orderBy('a').execute(), [{ a: 'x', b: '1' }, { a: 'y', b: '2' }],
    'each column got its own value')
})

t.test('a query that takes another number of parameters is refused at once, naming its SQL', async (t) => {
  const db = await pairsDb(t)
  t.throws(() => precompiled(db, db.selectFrom('pairs').selectAll().where('a', '=', textParameter()), 2),
    /takes 1 parameters, not 2: select \* from "pairs" where "a" = cast\(\? as text\)/)
})

t.test('an insert that does not take its columns in the order given is refused at once', async (t) => {
  const db = await pairsDb(t)
  t.throws(() => precompiledInsert<{ a: string, b: string }>(db, ['a', 'b'],
    (row) => db.insertInto('pairs').values({ b: row.b, a: row.a })), /does not take its columns in order/, 'swapped')
  t.throws(() => precompiledInsert<{ a: string, b: string }>(db, ['a', 'b'],
    (row) => db.insertInto('pairs').values({ a: row.a, b: 'fixed' })), /does not take its columns in order/, 'one left out')
  t.same(await db.selectFrom('pairs').selectAll().execute(), [], 'nothing written')
})
