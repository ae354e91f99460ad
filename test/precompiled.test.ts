/**
 * The store's login queries are built and compiled once and then run with new values (precompiled.ts): each
 * call must bind its own values where the placeholders were, keep the query's own constants, and a query
 * whose placeholder did not become a parameter is refused when the store is made, not at the first login.
 */
import { Kysely, sql, SqliteDialect } from 'kysely'
import Database from 'better-sqlite3'
import t from 'tap'
import type { Test } from 'tap'
import { asText, precompiled } from '../lib/store/kysely/precompiled.js'

interface Tables { pairs: { a: string, b: number } }

async function pairsDb (t: Test): Promise<Kysely<Tables>> {
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) })
  t.teardown(async () => await db.destroy())
  await db.schema.createTable('pairs').addColumn('a', 'text', (col) => col.primaryKey()).addColumn('b', 'integer').execute()
  return db
}

t.test('each call binds its own values, wherever the placeholders sit, and keeps the query\'s constants', async (t) => {
  const db = await pairsDb(t)
  const insert = precompiled(db, ['a', 'b'], (p) => db.insertInto('pairs').values({ b: p.b, a: p.a }))
  await insert({ a: 'x', b: 1 })
  await insert({ b: 2, a: 'y' })
  // A placeholder used twice, after a constant of the query (the 10).
  const bump = precompiled(db, ['a', 'by'], (p) => db.updateTable('pairs')
    .set((eb) => ({ b: eb('b', '+', p.by) }))
    .where('b', '<', 10).where('a', '=', asText(p.a)).where((eb) => eb('b', '+', p.by), '<', 100)
    .returning(['a', 'b']))
  t.same(await bump({ a: 'x', by: 5 }), [{ a: 'x', b: 6 }])
  t.same(await bump({ a: 'y', by: 3 }), [{ a: 'y', b: 5 }])
  t.same(await bump({ a: 'x', by: 5 }), [{ a: 'x', b: 11 }])
  t.same(await bump({ a: 'x', by: 1 }), [], 'the query\'s constant still holds: 11 is not below 10')
  const byA = precompiled(db, ['a'], (p) => db.selectFrom('pairs').select('b').where('a', '=', asText(p.a)))
  t.same(await byA({ a: 'x' }), [{ b: 11 }])
  t.same(await byA({ a: 'y' }), [{ b: 5 }])
  t.same(await byA({ a: 'z' }), [])
})

t.test('a placeholder that did not become a parameter is refused at once, naming it and the SQL', async (t) => {
  const db = await pairsDb(t)
  t.throws(() => precompiled(db, ['a', 'b'], (p) => db.selectFrom('pairs').selectAll().where('a', '=', asText(p.a))),
    /b did not become parameters of select \* from "pairs" where "a" = cast\(\? as text\)/, 'left out')
  t.throws(() => precompiled(db, ['a'], (p) => db.selectFrom('pairs').selectAll().where('a', '=', sql.lit(p.a))),
    /a did not become parameters/, 'written into the SQL text')
  t.same(await db.selectFrom('pairs').selectAll().execute(), [], 'nothing ran')
})
