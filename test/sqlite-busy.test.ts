/**
 * Another process holding the SQLite write lock (the CLI, a backup, a second instance) never freezes the
 * server: the store waits for the lock without blocking the event loop, so every other route keeps
 * answering, and the waiting request succeeds once the lock is released, or answers 503 after 5 s.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { buildExampleApp } from '../examples/app.js'
import { KyselyStore, openDatabase } from '../lib/index.js'

interface Setup {
  url: string
  clientId: string
  store: KyselyStore
  /** A second connection to the file, as another process would hold one. */
  other: Database.Database
}

async function setup (t: Test): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'oauth2-busy-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'oauth2.sqlite')
  const { db, sqlite } = await openDatabase(`sqlite:${file}`)
  const store = new KyselyStore({ db, sqlite })
  await store.migrate()
  const { app, publicClientId } = await buildExampleApp(store)
  t.teardown(async () => {
    await app.close()
    await db.destroy()
  })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const other = new Database(file)
  t.teardown(() => other.close())
  return { url, clientId: publicClientId, store, other }
}

const signUp = (url: string, username: string): Promise<Response> =>
  fetch(`${url}/sign_up/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: 'djangsta-secret' }) })

/** A login: its first step is a write (the throttle counts the attempt before the password is checked). */
const login = (url: string, clientId: string): Promise<Response> =>
  fetch(`${url}/o/token/`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: clientId }) })

t.test('while another connection holds the write lock, other routes answer; the write waits, then succeeds', async (t) => {
  const { url, clientId, store, other } = await setup(t)
  t.equal((await signUp(url, 'pony')).status, 201)
  other.exec('begin immediate')
  let settled = false
  const pending = login(url, clientId).finally(() => { settled = true })
  // Let the login reach the lock (a blocking busy timeout would freeze the server from here on).
  await delay(50)
  // A request that needs the lock has been sent; the server still answers everything else meanwhile.
  for (let i = 0; i < 5; i++) {
    const ping = await fetch(`${url}/ping`)
    t.equal(ping.status, 200)
  }
  t.equal(settled, false, 'the sign-up is still waiting for the lock, without blocking the server')
  other.exec('commit')
  const res = await pending
  t.equal(res.status, 200, 'it went through once the lock was free')
  t.match(await res.json(), { token_type: 'Bearer' })
  t.equal((await store.listClients()).length, 1)
})

t.test('a lock held past 5 s: 503 temporarily_unavailable, nothing stored', async (t) => {
  const { url, store, other } = await setup(t)
  other.exec('begin immediate')
  t.teardown(() => { if (other.inTransaction) other.exec('rollback') })
  const res = await signUp(url, 'pony')
  t.equal(res.status, 503)
  t.same(await res.json(), { error: 'temporarily_unavailable', error_description: 'The server cannot handle the request now: retry later.' })
  t.equal(res.headers.get('retry-after'), '1')
  other.exec('rollback')
  t.equal(await store.findUserByUsernameKey('pony'), null)
})
