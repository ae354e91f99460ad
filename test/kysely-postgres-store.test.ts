import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { sql } from 'kysely'
import t from 'tap'
import { openDatabase } from '../lib/store/kysely/connect.js'
import { KyselyStore } from '../lib/store/kysely/kysely-store.js'
import { startPostgres } from './fixtures/postgres.js'
import { storeContract } from './fixtures/store-contract.js'

const server = await startPostgres(t)

if (server !== null) {
  const { db, dialect } = await openDatabase(server.url)
  t.teardown(async () => await db.destroy())

  t.test('openDatabase opens a pool for a postgres:// URL', async (t) => {
    t.equal(dialect, 'postgres')
    const alt = await openDatabase(server.url.replace(/^postgres:/, 'postgresql:'))
    t.teardown(async () => await alt.db.destroy())
    t.equal(alt.dialect, 'postgres')
  })

  t.test('contract', async (t) => {
    // One database for the file; each store gets tables of its own through a unique prefix.
    storeContract(t, async () => {
      const store = new KyselyStore({ db, tablePrefix: `t_${randomBytes(6).toString('hex')}_` })
      await store.migrate()
      return { store, close: async () => {} }
    })
  })

  t.test('bigint times come back as numbers', async (t) => {
    const store = new KyselyStore({ db, tablePrefix: 'bigint_' })
    await store.migrate()
    const createdAt = 2 ** 53 - 1
    await store.createUser({ id: 'u1', username: 'u', usernameKey: 'u', passwordHash: 'h', createdAt })
    t.equal((await store.findUserById('u1'))?.createdAt, createdAt)
  })

  t.test('0010 drops the throttle counters\' reset_at index; the key\'s stays', async (t) => {
    const store = new KyselyStore({ db, tablePrefix: 'lean_' })
    await store.migrate()
    const { rows } = await sql<{ indexname: string }>`select indexname from pg_indexes where tablename = 'lean_throttles' order by indexname`.execute(db)
    t.same(rows.map((row) => row.indexname), ['lean_throttles_pkey'])
  })

  t.test('0011 indexes sessions and authorization codes by user', async (t) => {
    const store = new KyselyStore({ db, tablePrefix: 'by_user_' })
    await store.migrate()
    const { rows } = await sql<{ indexname: string }>`select indexname from pg_indexes
      where tablename in ('by_user_sessions', 'by_user_authorization_codes') and indexname like '%user_id%' order by indexname`.execute(db)
    t.same(rows.map((row) => row.indexname), ['by_user_authorization_codes_user_id_idx', 'by_user_sessions_user_id_idx'])
  })

  t.test('findSession waits for a transaction that is deleting the session, then reads it gone', async (t) => {
    // Log out everywhere deletes a user's sessions and pending codes in one transaction; the authorization
    // endpoint reads the session again after storing a code. A read that saw the session as it was before
    // that transaction committed could show a code the transaction did not see, and so did not delete.
    const store = new KyselyStore({ db, tablePrefix: 'locked_' })
    await store.migrate()
    await store.createSession({ idHash: 'ending', userId: 'u1', createdAt: 0, expiresAt: Number.MAX_SAFE_INTEGER })
    let commit = (): void => {}
    const committing = new Promise<void>((resolve) => { commit = resolve })
    let deleted = (): void => {}
    const deleting = new Promise<void>((resolve) => { deleted = resolve })
    const transaction = db.transaction().execute(async (trx) => {
      await sql`delete from locked_sessions where id_hash = 'ending'`.execute(trx)
      deleted()
      await committing
    })
    await deleting
    const read = store.findSession('ending')
    // The read waits on the deleting transaction's row lock (polled in pg_stat_activity, not timed).
    let waiting = false
    for (let i = 0; i < 500 && !waiting; i++) {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
        where wait_event_type = 'Lock' and query like '%locked_sessions%' and query not like '%pg_stat_activity%'`.execute(db)
      waiting = (rows[0]?.n ?? 0) > 0
      if (!waiting) await new Promise((resolve) => setTimeout(resolve, 10))
    }
    t.ok(waiting, 'the read waits for the transaction')
    commit()
    await transaction
    t.equal(await read, null, 'and then reads the session gone')
  })

  t.test('an idle connection killed by the server is a warning, not a crash', async (t) => {
    const victim = await openDatabase(server.url)
    t.teardown(async () => await victim.db.destroy())
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(victim.db)
    const warned = once(process, 'warning')
    await sql`select pg_terminate_backend(${rows[0]!.pid})`.execute(db)
    const [warning] = await warned as [Error & { code?: string }]
    t.equal(warning.code, 'FST_OAUTH2_PG_IDLE_ERROR')
    t.match(warning.message, /idle connection failed/)
    // The pool replaces the dead client.
    const { rows: after } = await sql<{ one: number }>`select 1 as one`.execute(victim.db)
    t.equal(after[0]?.one, 1)
  })
}
