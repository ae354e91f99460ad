/**
 * The seed's flow on real databases: the example app on a SQLite file (surviving a restart) and on
 * PostgreSQL, clients made with the CLI, and the tables read raw: no plaintext secret anywhere.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql, type Kysely } from 'kysely'
import t, { type Test } from 'tap'
import { buildExampleApp } from '../examples/app.js'
import { runCli } from '../lib/cli/cli.js'
import { KyselyStore, openDatabase } from '../lib/index.js'
import { basic } from './fixtures/app.js'
import { startPostgres } from './fixtures/postgres.js'

const PASSWORD = 'djangsta-secret'

async function cli (...argv: string[]): Promise<string> {
  const out: string[] = []
  const code = await runCli(argv, { stdout: (l) => out.push(l), stderr: (l) => out.push(l), env: {} })
  if (code !== 0) throw new Error(`cli ${argv.join(' ')} failed: ${out.join('\n')}`)
  return out.join('\n')
}

async function startExample (t: Test, url: string): Promise<{ app: Awaited<ReturnType<typeof buildExampleApp>>['app'], publicClientId: string, close: () => Promise<void> }> {
  const { db } = await openDatabase(url)
  const store = new KyselyStore({ db })
  await store.migrate()
  const { app, publicClientId } = await buildExampleApp(store)
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await app.close()
    await db.destroy()
  }
  t.teardown(close)
  return { app, publicClientId, close }
}

/** Every text cell of every table of the store. */
async function allCells (db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<string> {
  const tables = dialect === 'sqlite'
    ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name like 'oauth2_%'`.execute(db)).rows
    : (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_name like 'oauth2_%'`.execute(db)).rows
  const cells: string[] = []
  for (const { name } of tables) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db)
    for (const row of rows) cells.push(...Object.values(row).map(String))
  }
  return cells.join('\n')
}

async function seedFlow (t: Test, url: string, dialect: 'sqlite' | 'postgres'): Promise<void> {
  await cli('--db', url, 'migrate')
  const confidential = JSON.parse(await cli('--db', url, 'client', 'create', '--name', 'backend',
    '--type', 'confidential', '--grant', 'password', '--grant', 'refresh_token', '--json'))
  const { app, publicClientId } = await startExample(t, url)

  const signUp = await app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'django.pony', password: PASSWORD } })
  t.equal(signUp.statusCode, 201)
  const login = await app.inject({
    method: 'POST',
    url: '/o/token/',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `grant_type=password&username=django.pony&password=${PASSWORD}&client_id=${publicClientId}`
  })
  t.equal(login.statusCode, 200)
  const tokens = login.json()
  const me = await app.inject({ url: '/me', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.same(me.json(), { id: signUp.json().id, username: 'django.pony' })
  const refreshed = await app.inject({
    method: 'POST',
    url: '/o/token/',
    payload: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: publicClientId }
  })
  t.equal(refreshed.statusCode, 200)

  // The CLI's confidential client logs in over HTTP Basic.
  const viaBasic = await app.inject({
    method: 'POST',
    url: '/o/token/',
    headers: { authorization: basic(confidential.client_id, confidential.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: `grant_type=password&username=django.pony&password=${PASSWORD}`
  })
  t.equal(viaBasic.statusCode, 200)

  // Read every table raw: hashes only.
  const { db } = await openDatabase(url)
  t.teardown(async () => await db.destroy())
  const cells = await allCells(db, dialect)
  t.match(cells, 'django.pony', 'the tables were read')
  for (const secret of [PASSWORD, confidential.client_secret, tokens.access_token, tokens.refresh_token,
    refreshed.json().access_token, refreshed.json().refresh_token, viaBasic.json().access_token]) {
    t.notMatch(cells, secret, 'no plaintext secret in the database')
  }
  t.match(cells, /\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
}

t.test('SQLite file: CLI set-up, the flow, nothing secret stored, and a restart keeps users and tokens', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'oauth2-flow-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const url = `sqlite:${join(dir, 'data', 'oauth2.sqlite')}`
  await seedFlow(t, url, 'sqlite')

  const first = await startExample(t, url)
  const login = await first.app.inject({
    method: 'POST',
    url: '/o/token/',
    payload: { grant_type: 'password', username: 'django.pony', password: PASSWORD, client_id: first.publicClientId }
  })
  const { access_token: accessToken } = login.json()
  await first.close()

  const second = await startExample(t, url)
  t.equal(second.publicClientId, first.publicClientId, 'the public client is found, not created again')
  const me = await second.app.inject({ url: '/me', headers: { authorization: `Bearer ${accessToken}` } })
  t.equal(me.statusCode, 200, 'the token survives the restart')
  t.equal(me.json().username, 'django.pony')
})

t.test('PostgreSQL: CLI set-up, the flow, nothing secret stored', async (t) => {
  const server = await startPostgres(t)
  if (server === null) return
  await seedFlow(t, server.url, 'postgres')
})
