/**
 * Keeping Django's `auth_user` (`djangoUsers`), with the DOT 1.7 fixture on SQLite and PostgreSQL: clients
 * and tokens imported (`clientsAndTokensOnly`), DOT's tokens and every password working, and every hash in
 * the table one that Django still verifies (checked with our verifier of Django's format, and with Django
 * itself when python3-django is installed).
 */
import { execFileSync } from 'node:child_process'
import Database from 'better-sqlite3'
import Fastify from 'fastify'
import { Kysely, SqliteDialect } from 'kysely'
import t, { type Test } from 'tap'
import oauth2, { createClient, djangoUsers, importFromDjango, KyselyStore, type DjangoUsersOptions } from '../lib/index.js'
import { verifyDjangoPbkdf2 } from '../lib/crypto/django-hashes.js'
import { basic } from './fixtures/app.js'
import { DOT, postgresDjango, sqliteProject, type DjangoProject } from './fixtures/django-project.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const LIVE = '2099-01-01 00:00:00+00:00'

async function passwords (db: Kysely<any>): Promise<Record<string, string>> {
  const rows = await db.selectFrom('auth_user').select(['id', 'password']).orderBy('id').execute()
  return Object.fromEntries(rows.map((r) => [String(r.id), r.password as string]))
}

/** Whether Django 3.2 (Debian's python3-django) verifies these passwords against these hashes. */
function djangoChecks (pairs: Array<[string, string]>): boolean[] | null {
  const script = `import json, sys
from django.conf import settings
settings.configure()
from django.contrib.auth.hashers import check_password
print(json.dumps([check_password(p, h) for p, h in json.load(sys.stdin)]))`
  try {
    return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(pairs), encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] }))
  } catch {
    return null
  }
}

async function keepAuthUser (t: Test, django: DjangoProject, db: Kysely<any>): Promise<void> {
  const store = new KyselyStore({ db })
  await store.migrate()
  const report = await importFromDjango({ from: django.url, store, clientsAndTokensOnly: true })
  t.match(report, { refused: false, users: { created: 0, skipped: 0 }, clients: { created: 4 }, tokens: { created: 12 } },
    'tokens of inactive users stay behind')
  const before = await passwords(db)

  const serve = async (options: DjangoUsersOptions): Promise<{
    form: (p: Record<string, string>, h?: Record<string, string>) => Promise<any>
    me: (token: string) => Promise<any>
    signUp: (username: string, password: string) => Promise<any>
  }> => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(oauth2, { store, users: djangoUsers(db, options), scopes: ['read', 'write', 'groups'], throttle: false })
    app.get('/me/', { onRequest: app.oauth2.authenticate() }, async (request) => request.user)
    return {
      form: async (payload, headers = {}) => await app.inject({ method: 'POST', url: '/o/token/', headers: { ...FORM, ...headers }, payload: new URLSearchParams(payload).toString() }),
      me: async (token) => await app.inject({ url: '/me/', headers: { authorization: `Bearer ${token}` } }),
      signUp: async (username, password) => await app.inject({ method: 'POST', url: '/sign_up/', payload: { username, password } })
    }
  }
  const api = await serve({})
  const pub = DOT.clients.public.client_id
  const login = async (username: string, password: string): Promise<any> => await api.form({ grant_type: 'password', username, password, client_id: pub })

  // DOT's tokens, without logging in again; Django's integer ids.
  const [first] = DOT.tokens
  const me = await api.me(first!.access_token)
  t.equal(me.statusCode, 200)
  t.same(me.json(), { id: '1', username: 'django.pony', email: '' })
  const retired = DOT.tokens.find((tk) => tk.state === 'user-inactive')!
  t.equal((await api.me(retired.access_token)).statusCode, 401, 'an inactive Django user\'s token is refused')
  const refreshed = await api.form({ grant_type: 'refresh_token', refresh_token: first!.refresh_token!, client_id: pub })
  t.equal(refreshed.statusCode, 200, refreshed.body)

  // Every active user with the old password; Django's usernames are case-sensitive, and so is this way.
  for (const user of DOT.users.filter((u) => u.active && u.usable)) t.equal((await login(user.username, user.password!)).statusCode, 200, user.username)
  t.equal((await login('PONY', 'pony-lower-secret')).statusCode, 400)
  const { confidential } = DOT.clients
  const pony = { grant_type: 'password', username: 'Pony', password: 'pony-upper-secret' }
  t.equal((await api.form(pony, { authorization: basic(confidential.client_id, confidential.client_secret) })).statusCode, 200)
  t.equal((await api.form({ ...pony, client_id: confidential.client_id, client_secret: confidential.client_secret })).statusCode, 200)
  t.same(await passwords(db), before, 'no login wrote to auth_user')

  // Sign-up: Django's next integer id, and a hash in Django's default format.
  const signUp = await api.signUp('new.pony', 'new-pony-secret')
  t.equal(signUp.statusCode, 201)
  t.same(signUp.json(), { id: '11', username: 'new.pony' })
  t.equal((await login('new.pony', 'new-pony-secret')).statusCode, 200)

  // With upgradeHashes, a weaker PBKDF2 hash is rewritten, still as PBKDF2, once.
  const upgrading = await serve({ upgradeHashes: true, pbkdf2Iterations: 300_000 })
  t.equal((await upgrading.form({ grant_type: 'password', username: 'pony', password: 'pony-lower-secret', client_id: pub })).statusCode, 200)
  const upgraded = (await passwords(db))['3']!
  t.match(upgraded, /^pbkdf2_sha256\$300000\$/)
  t.equal((await upgrading.form({ grant_type: 'password', username: 'pony', password: 'pony-lower-secret', client_id: pub })).statusCode, 200)
  t.equal((await passwords(db))['3'], upgraded, 'a current hash is left alone')

  // Django can verify every hash in the table.
  const known: Array<[string, string]> = DOT.users.filter((u) => u.usable).map((u) => [u.password!, (before as Record<string, string>)[String(u.id)]!])
  const after = await passwords(db)
  known.push(['new-pony-secret', after['11']!], ['pony-lower-secret', after['3']!])
  for (const [password, hash] of known) t.ok(await verifyDjangoPbkdf2(hash, password), 'Django\'s format, verified')
  const django3 = djangoChecks(known)
  if (django3 === null) t.comment('python3-django is not installed: Django\'s own check_password skipped')
  else t.same(django3, known.map(() => true), 'Django 3.2\'s check_password agrees')

  // After a token made in Django meanwhile, a second run brings it.
  await django.exec(`insert into oauth2_provider_accesstoken (id, user_id, token, application_id, expires, scope, created, updated)
    values (100, 2, 'dot-access-token-made-after-the-import', 1, ?, 'read', ?, ?)`, LIVE, LIVE, LIVE)
  t.match(await importFromDjango({ from: django.url, store, clientsAndTokensOnly: true }), { tokens: { created: 1, updated: 0 } })
  t.same((await api.me('dot-access-token-made-after-the-import')).json(), { id: '2', username: 'Pony', email: '' })
}

t.test('auth_user on SQLite: opened as it is (not switched to WAL)', async (t) => {
  const django = sqliteProject(t)
  const sqlite = new Database(django.path)
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) })
  t.teardown(() => db.destroy())
  await keepAuthUser(t, django, db)
  t.equal(sqlite.pragma('journal_mode', { simple: true }), 'delete')
})

t.test('auth_user on PostgreSQL', async (t) => {
  const project = await postgresDjango(t)
  if (project === null) return
  await keepAuthUser(t, project.django, project.db)
})

t.test('djangoUsers: options are checked, ids that are not Django\'s find nobody, argon2 when asked', async (t) => {
  const django = sqliteProject(t)
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(django.path) }) })
  t.teardown(() => db.destroy())
  for (const [options, message] of [
    [{ table: 'auth_user; drop' }, /option "table"/],
    [{ hashFormat: 'bcrypt' }, /option "hashFormat"/],
    [{ pbkdf2Iterations: 0 }, /option "pbkdf2Iterations"/],
    [{ pbkdf2Iterations: 1.5 }, /option "pbkdf2Iterations"/]
  ] as const) t.throws(() => djangoUsers(db, options as DjangoUsersOptions), { name: 'TypeError', message })
  const users = djangoUsers(db, { table: 'auth_user' })
  for (const id of ['0', '01', 'x', '99999999999999999']) t.equal(await users.findById(id), null, id)
  t.equal(await users.findById('9'), null, 'inactive')

  const store = new KyselyStore({ db })
  await store.migrate()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(oauth2, { store, users: djangoUsers(db, { hashFormat: 'argon2', upgradeHashes: true }), throttle: false })
  const created = await app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'argon.pony', password: 'argon-pony-secret' } })
  t.equal(created.statusCode, 201)
  t.match((await passwords(db))['11'], /^argon2\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  t.equal((await app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'argon.pony', password: 'argon-pony-secret' } })).statusCode, 400)
  // A Django PBKDF2 hash, upgraded at login to Django's argon2 format.
  const { client } = await createClient(store, { name: 'spa', type: 'public' })
  const login = await app.inject({ method: 'POST', url: '/o/token/', payload: { grant_type: 'password', username: 'pony', password: 'pony-lower-secret', client_id: client.id } })
  t.equal(login.statusCode, 200)
  t.match((await passwords(db))['3'], /^argon2\$argon2id\$/)
})
