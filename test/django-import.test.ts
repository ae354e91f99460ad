/**
 * `importFromDjango` and `fastify-oauth2-server import django`: a real DOT 1.7 project (test/fixtures/
 * dot-1.7.sqlite3) moved into the plugin's store on SQLite and PostgreSQL, then used over HTTP with the
 * tokens, passwords and client credentials its clients already hold; a second run after changes in
 * Django; the dry run; collisions; and what cannot come over.
 */
import { pbkdf2Sync } from 'node:crypto'
import Fastify from 'fastify'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import oauth2, {
  KyselyStore,
  MemoryStore,
  importFromDjango,
  kyselyTransaction,
  openDatabase,
  type DjangoImportReport,
  type OAuth2Store
} from '../lib/index.js'
import { runCli } from '../lib/cli/cli.js'
import { djangoTime, readDjango } from '../lib/django/source.js'
import { hashToken } from '../lib/crypto/tokens.js'
import { basic } from './fixtures/app.js'
import { DOT, DOT_SQLITE, postgresDjango, sqliteProject, type DjangoProject, type DotToken } from './fixtures/django-project.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const RENAMED: Record<string, string> = { pony: 'pony_3', PONY: 'PONY_4', STRASSE: 'STRASSE_7' }
/** A password hash made as Django's PBKDF2PasswordHasher does (few iterations: a test). */
function djangoHash (password: string, salt = 'fixturesalt'): string {
  return `pbkdf2_sha256$1000$${salt}$${pbkdf2Sync(password, salt, 1000, 32, 'sha256').toString('base64')}`
}
const LIVE = '2099-01-01 00:00:00+00:00'

/** The seed's DOT settings on the plugin, and DOT's `/me/`. */
async function serve (t: Test, store: OAuth2Store): Promise<{
  form: (payload: Record<string, string>, headers?: Record<string, string>) => Promise<any>
  me: (token: string) => Promise<any>
  login: (username: string, password: string) => Promise<any>
}> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(oauth2, { store, scopes: ['read', 'write', 'groups'], accessTokenTtl: 36_000, throttle: false })
  app.get('/me/', { onRequest: app.oauth2.authenticate() }, async (request) => ({ user: request.user }))
  const form = async (payload: Record<string, string>, headers: Record<string, string> = {}): Promise<any> =>
    await app.inject({ method: 'POST', url: '/o/token/', headers: { ...FORM, ...headers }, payload: new URLSearchParams(payload).toString() })
  return {
    form,
    me: async (token) => await app.inject({ url: '/me/', headers: { authorization: `Bearer ${token}` } }),
    login: async (username, password) => await form({ grant_type: 'password', username, password, client_id: DOT.clients.public.client_id })
  }
}

function tokensIn (state: DotToken['state']): DotToken[] {
  return DOT.tokens.filter((token) => token.state === state)
}

/** The whole move, on one Django database and one store. */
async function move (t: Test, django: DjangoProject, store: OAuth2Store, transaction?: Parameters<typeof importFromDjango>[0]['transaction']): Promise<void> {
  const run = async (extra: Partial<Parameters<typeof importFromDjango>[0]> = {}): Promise<DjangoImportReport> =>
    await importFromDjango({ from: django.url, store, transaction, onCollision: 'rename', ...extra })

  // 1. The default refuses the case collisions, and writes nothing.
  const refused = await run({ onCollision: undefined })
  t.equal(refused.refused, true)
  t.same(refused.collisions.map((c) => [c.id, c.username, c.collidesWith.username, c.renamedTo]),
    [['3', 'pony', 'Pony', null], ['4', 'PONY', 'Pony', null], ['7', 'STRASSE', 'straße', null]])

  // 2. The dry run reports and writes nothing.
  const dry = await run({ dryRun: true })
  t.equal(dry.dryRun, true)
  t.same([dry.users, dry.clients, dry.tokens], [
    { created: 8, updated: 0, unchanged: 0, skipped: 2 },
    { created: 4, updated: 0, unchanged: 0, skipped: 1 },
    { created: 12, updated: 0, unchanged: 0, skipped: 5 }
  ])
  t.same(await store.listClients(), [], 'the dry run wrote no client')
  t.equal(await store.findUserById('1'), null, 'nor a user')
  t.equal(await store.findByAccessTokenHash(hashToken(DOT.tokens[0]!.access_token)), null, 'nor a token')

  // 3. The import.
  const report = await run()
  t.same([report.users, report.clients, report.tokens], [dry.users, dry.clients, dry.tokens])
  t.same(report.collisions.map((c) => c.renamedTo), ['pony_3', 'PONY_4', 'STRASSE_7'])
  t.same(report.skipped.filter((s) => s.kind !== 'access_token' && s.kind !== 'refresh_token').map((s) => [s.kind, s.id, s.name]), [
    ['user', '9', 'retired'], ['user', '10', 'admin'],
    ['redirect_uri', DOT.clients.web.client_id, 'http://app.example.com/insecure'],
    ['client', DOT.clients.legacy.client_id, undefined]
  ])
  t.notOk(JSON.stringify(report).includes(DOT.clients.confidential.client_secret), 'no secret in the report')
  const web = await store.findClient(DOT.clients.web.client_id)
  t.match(web, { type: 'public', redirectUris: ['https://app.example.com/callback', 'com.example.app:/oauth'], requireConsent: false })

  // 4. Over HTTP: every live DOT token works on /me/, every dead one is refused.
  const api = await serve(t, store)
  for (const token of tokensIn('live')) {
    const res = await api.me(token.access_token)
    t.equal(res.statusCode, 200, `${token.user}'s DOT token`)
    t.equal(res.json().user?.username ?? null, token.user === null ? null : RENAMED[token.user] ?? token.user)
  }
  for (const state of ['rotated', 'access-revoked', 'refresh-revoked', 'access-expired', 'expired', 'user-inactive'] as const) {
    for (const token of tokensIn(state)) t.equal((await api.me(token.access_token)).statusCode, 401, state)
  }
  // A DOT refresh token refreshes (the expired session's too), and the old access token dies with it.
  const [stale] = tokensIn('access-expired')
  const pony = tokensIn('live')[0]!
  for (const token of [stale!, pony]) {
    const refreshed = await api.form({ grant_type: 'refresh_token', refresh_token: token.refresh_token!, client_id: DOT.clients.public.client_id })
    t.equal(refreshed.statusCode, 200, refreshed.body)
    t.equal(refreshed.json().scope, token.scope)
    t.equal((await api.me(refreshed.json().access_token)).statusCode, 200)
  }
  t.equal((await api.me(pony.access_token)).statusCode, 401, 'rotated here')

  // Every active user logs in with the old password (the renamed ones under their new name); all but one,
  // whose password is about to change in Django.
  for (const user of DOT.users.filter((u) => u.active && u.usable && u.username !== '日本')) {
    const res = await api.login(RENAMED[user.username] ?? user.username, user.password!)
    t.equal(res.statusCode, 200, user.username)
  }
  t.match((await store.findUserById('1'))!.passwordHash, /^\$argon2id\$/, 're-hashed at the first login')
  for (const user of DOT.users.filter((u) => !u.active || !u.usable)) {
    t.equal((await api.login(user.username, user.password ?? 'x')).statusCode, 400, user.username)
  }

  // The old client ids and secrets: Basic, and in the body.
  const { confidential, cc } = DOT.clients
  const password = { grant_type: 'password', username: 'Pony', password: 'pony-upper-secret' }
  t.equal((await api.form(password, { authorization: basic(confidential.client_id, confidential.client_secret) })).statusCode, 200)
  t.equal((await api.form({ ...password, client_id: confidential.client_id, client_secret: confidential.client_secret })).statusCode, 200)
  t.equal((await api.form(password, { authorization: basic(confidential.client_id, 'wrong') })).statusCode, 401)
  t.equal((await api.form({ grant_type: 'client_credentials' }, { authorization: basic(cc.client_id, cc.client_secret) })).statusCode, 200)

  // 5. Django moves on before the cut-over: a new user, a changed password, a deactivation, a new token,
  // a revoked one; and someone signed up here meanwhile under a name a new Django user also takes.
  await django.exec(`insert into auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,
    is_active, date_joined) values (11, ?, ?, 'newcomer', '', '', '', ?, ?, ?)`, djangoHash('newcomer-secret'), false, false, true, LIVE)
  await django.exec(`insert into auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,
    is_active, date_joined) values (12, ?, ?, 'Latecomer', '', '', '', ?, ?, ?)`, djangoHash('latecomer-secret'), false, false, true, LIVE)
  await store.createUser({ id: 'here-1', username: 'latecomer', usernameKey: 'latecomer', passwordHash: djangoHash('other'), createdAt: 0 })
  await django.exec('update auth_user set password = ? where id = 8', djangoHash('new-nihon-secret'))
  await django.exec('update auth_user set password = ? where id = 6', djangoHash('new-strasse-secret'))
  await django.exec('update auth_user set is_active = ? where id = 4', false)
  await django.exec(`insert into oauth2_provider_accesstoken (id, user_id, token, application_id, expires, scope, created, updated)
    values (100, 5, 'dot-access-token-made-after-the-import', 1, ?, 'read', ?, ?)`, LIVE, LIVE, LIVE)
  await django.exec(`insert into oauth2_provider_refreshtoken (id, user_id, token, application_id, access_token_id, created, updated)
    values (100, 5, 'dot-refresh-token-made-after-the-import', 1, 100, ?, ?)`, LIVE, LIVE)
  const second = tokensIn('live')[8]!
  // DOT revokes a refresh token by marking it and deleting its access token.
  await django.exec('update oauth2_provider_refreshtoken set revoked = ?, access_token_id = null where token = ?', LIVE, second.refresh_token)
  await django.exec('delete from oauth2_provider_accesstoken where token = ?', second.access_token)

  const again = await run()
  t.same([again.users, again.tokens], [
    { created: 2, updated: 2, unchanged: 6, skipped: 2 },
    { created: 1, updated: 1, unchanged: 10, skipped: 6 }
  ])
  t.same(again.collisions.map((c) => [c.id, c.collidesWith.id, c.renamedTo]), [['12', 'here-1', 'Latecomer_12']])
  t.match(again.notes, [/^user 4 "PONY": inactive in Django: its password here is disabled and its tokens revoked$/])
  t.equal((await api.login('newcomer', 'newcomer-secret')).statusCode, 200)
  t.equal((await api.login('Latecomer_12', 'latecomer-secret')).statusCode, 200)
  t.equal((await api.login('日本', 'new-nihon-secret')).statusCode, 200, 'a password changed in Django')
  t.equal((await api.login('日本', 'nihon-secret')).statusCode, 400)
  // A user who logged in here has a hash of our own: the password that worked here stays.
  t.equal((await api.login('straße', 'strasse-secret')).statusCode, 200)
  t.equal((await api.login('straße', 'new-strasse-secret')).statusCode, 400)
  t.equal((await api.login('PONY_4', 'pony-shout-secret')).statusCode, 400, 'deactivated in Django')
  t.equal((await api.me(tokensIn('live').find((tk) => tk.user === 'PONY')!.access_token)).statusCode, 401)
  t.equal((await api.me('dot-access-token-made-after-the-import')).statusCode, 200)
  t.equal((await api.me(second.access_token)).statusCode, 401, 'revoked in Django, revoked here')

  // 6. A third run finds nothing to do.
  const third = await run()
  t.same([third.users.created + third.users.updated, third.clients.created, third.tokens.created + third.tokens.updated], [0, 0, 0])
}

t.test('SQLite to SQLite: the move, over HTTP; Django\'s file stays as it was (journal mode too)', async (t) => {
  const django = sqliteProject(t)
  const { db } = await openDatabase('sqlite::memory:')
  t.teardown(() => db.destroy())
  const store = new KyselyStore({ db })
  await store.migrate()
  await move(t, django, store, kyselyTransaction(db))
  const file = new Database(django.path, { readonly: true })
  t.equal(file.pragma('journal_mode', { simple: true }), 'delete', 'never switched to WAL')
  file.close()
})

t.test('PostgreSQL to PostgreSQL: the move, over HTTP', async (t) => {
  const project = await postgresDjango(t)
  if (project === null) return
  const { django, db } = project
  const store = new KyselyStore({ db })
  await store.migrate()
  await move(t, django, store, kyselyTransaction(db))
})

t.test('the CLI: dry run, refusal, import, report without secrets; usage errors', async (t) => {
  const django = sqliteProject(t)
  const target = `sqlite:${django.path}.ours`
  const cli = async (...argv: string[]): Promise<{ code: number, out: string, err: string }> => {
    const out: string[] = []
    const err: string[] = []
    const code = await runCli(['--db', target, ...argv], { stdout: (l) => out.push(l), stderr: (l) => err.push(l), env: {} })
    return { code, out: out.join('\n'), err: err.join('\n') }
  }
  t.equal((await cli('migrate')).code, 0)
  const refused = await cli('import', 'django', '--from', django.url)
  t.equal(refused.code, 1)
  t.match(refused.out, /refused: .*nothing was written\.\n {2}user 3 "pony" collides with user 2 "Pony"/)
  const dry = await cli('import', 'django', '--from', django.url, '--dry-run', '--on-collision', 'rename')
  t.equal(dry.code, 0)
  t.match(dry.out, /^dry run: nothing was written\nusers: 8 created, 0 updated, 0 unchanged, 2 skipped\n/)
  t.match(dry.out, /renamed: user 3 "pony" -> "pony_3" \(collides with user 2 "Pony"\)/)
  t.match(dry.out, /skipped 2 refresh tokens: revoked in Django \(DOT ids 10, 13\)/)
  t.match(dry.out, /skipped: redirect URI of client \S+: redirect URI "http:\/\/app.example.com\/insecure" must be/)
  t.match(dry.out, /skipped: client \S+: the public implicit grant is not served here/)
  t.notMatch(dry.out, /authorization_code grant is not served/, 'the authorization-code app comes over with its grant')
  const done = await cli('import', 'django', '--from', django.url, '--on-collision', 'rename', '--json', '--refresh-token-ttl', '86400')
  t.equal(done.code, 0)
  const report = JSON.parse(done.out) as DjangoImportReport
  t.match(report, { dryRun: false, refused: false, users: { created: 8 }, tokens: { created: 12 } })
  t.type(report.ms, 'number')
  for (const output of [refused.out, dry.out, done.out]) {
    for (const secret of [...DOT.tokens.flatMap((tk) => [tk.access_token, tk.refresh_token]), ...Object.values(DOT.clients).map((c) => c.client_secret)]) {
      if (secret !== null && output.includes(secret)) t.fail('a secret in the output')
    }
    t.notMatch(output, /pbkdf2_sha256|argon2/, 'no password hash in the output')
  }
  const again = await cli('import', 'django', '--from', django.url, '--on-collision', 'rename', '--clients-and-tokens-only')
  t.match(again.out, /^users: 0 created, 0 updated, 0 unchanged, 0 skipped\nclients: 0 created, 0 updated, 4 unchanged, 1 skipped\ntokens: 0 created, 0 updated, 12 unchanged, 5 skipped\n/,
    'clients and tokens only: no user is touched, the rest is there already')
  for (const [argv, message] of [
    [[], /--from is required/],
    [['--from', django.url, '--on-collision', 'drop'], /--on-collision must be "rename" or "refuse"/],
    [['--from', django.url, '--refresh-token-ttl', '0'], /--refresh-token-ttl must be a positive number of seconds/],
    [['--from', django.url, 'extra'], /import django takes options only/]
  ] as const) {
    const res = await cli('import', 'django', ...argv)
    t.equal(res.code, 2)
    t.match(res.err, message)
  }
  const help = await cli('import', 'django', '--help')
  t.match(help.out, /Usage: fastify-oauth2-server import django/)
  const unmigrated = await runCli(['--db', `${target}.new`, 'import', 'django', '--from', django.url], { stdout: () => {}, stderr: (l) => { t.match(l, /the tables are missing in/) }, env: {} })
  t.equal(unmigrated, 1)
  const missing = await cli('import', 'django', '--from', 'sqlite:/nonexistent/db.sqlite3')
  t.equal(missing.code, 1)
  t.match(missing.err, /cannot read the Django database sqlite:\/nonexistent\/db.sqlite3/)
})

t.test('what cannot come over is reported, and a store without transactions works too', async (t) => {
  const django = sqliteProject(t)
  const { confidential } = DOT.clients
  // DOT ≥ 2.0 hashes client secrets; a user with a hash no one here can verify; a username Django's admin let
  // in that sign-up would refuse; a client secret in a hash format this version cannot verify.
  await django.exec('update oauth2_provider_application set client_secret = ? where client_id = ?', djangoHash(confidential.client_secret, 'clientsalt'), confidential.client_id)
  await django.exec(`update oauth2_provider_application set client_type = 'confidential', client_secret = 'bcrypt_sha256$$2b$12$abc' where client_id = ?`, DOT.clients.web.client_id)
  await django.exec('update auth_user set password = ? where id = 8', 'bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuv')
  await django.exec('update auth_user set username = ? where id = 7', 'has space')
  await django.exec('update auth_user set password = ? where id = 1', '')
  await django.exec(`update oauth2_provider_application set name = '' where client_id = ?`, DOT.clients.cc.client_id)
  await django.exec(`insert into oauth2_provider_accesstoken (id, user_id, token, application_id, expires, scope, created, updated)
    values (200, 2, 'a-token-of-the-implicit-app', 5, ?, 'read', ?, ?)`, LIVE, LIVE, LIVE)
  const store = new MemoryStore()
  await store.createUser({ id: 'x', username: 'pony_3', usernameKey: 'pony_3', passwordHash: djangoHash('x'), createdAt: 0 })
  const report = await importFromDjango({ from: django.url, store, onCollision: 'rename' })
  t.same(report.skipped.filter((s) => s.kind === 'user' || s.kind === 'client').map((s) => [s.id, s.reason]), [
    ['1', 'no usable password in Django'],
    ['7', 'The username may contain only letters, numbers, and @/./+/-/_ characters.'],
    ['8', 'its password hash ("bcrypt_sha256") cannot be verified here: the user must reset the password'],
    ['9', 'inactive in Django'],
    ['10', 'no usable password in Django'],
    ['3', 'its new name "pony_3" is taken too'],
    [DOT.clients.web.client_id, 'its secret is hashed with bcrypt_sha256, which this version cannot verify'],
    [DOT.clients.legacy.client_id, 'the public implicit grant is not served here']
  ])
  t.match(report.skipped.find((s) => s.kind === 'refresh_token' && s.id === '1'), { reason: 'its user 1 was not imported' })
  t.match(report.skipped.find((s) => s.kind === 'access_token' && s.id === '200'), { reason: 'its application was not imported' })
  t.equal((await store.findClient(DOT.clients.cc.client_id))!.name, DOT.clients.cc.client_id, 'a nameless application is named by its id')

  // The DOT ≥ 2.0 secret: verified with Django's hasher at first use, then stored as its SHA-256.
  const api = await serve(t, store)
  const password = { grant_type: 'password', username: 'Pony', password: 'pony-upper-secret' }
  t.equal((await api.form(password, { authorization: basic(confidential.client_id, 'wrong') })).statusCode, 401)
  t.match((await store.findClient(confidential.client_id))!.secretHash, /^pbkdf2_sha256\$/, 'a wrong secret changes nothing')
  t.equal((await api.form(password, { authorization: basic(confidential.client_id, confidential.client_secret) })).statusCode, 200)
  t.equal((await store.findClient(confidential.client_id))!.secretHash, hashToken(confidential.client_secret))
  t.equal((await api.form(password, { authorization: basic(confidential.client_id, confidential.client_secret) })).statusCode, 200)

  // Django changes a hash to one nobody here reads: the earlier one is kept.
  await django.exec('update auth_user set password = ? where id = 5', 'md5$salt$0123')
  const again = await importFromDjango({ from: django.url, store, onCollision: 'rename' })
  t.match(again.skipped.find((s) => s.id === '5'), { reason: 'its password hash ("md5") cannot be verified here: the user must reset the password (its previous one is kept)' })
  t.equal((await api.login('jürgen', 'pässwörd 日本 🐴')).statusCode, 200)

  await t.rejects(importFromDjango({ from: django.url, store, onCollision: 'drop' as 'rename' }), TypeError)
  await t.rejects(importFromDjango({ from: django.url, store, refreshTokenTtl: 0 }), TypeError)
})

t.test('a username taken between the plan and the write is reported, not lost', async (t) => {
  const django = sqliteProject(t)
  class Racy extends MemoryStore {
    override async createUser (): Promise<null> { return null }
  }
  const report = await importFromDjango({ from: django.url, store: new Racy(), onCollision: 'rename' })
  t.equal(report.users.created, 0)
  t.equal(report.users.skipped, 10)
  t.match(report.skipped.find((s) => s.id === '1'), { kind: 'user', name: 'django.pony', reason: 'the username was taken meanwhile' })
})

t.test('a DOT that keeps only hashes of its tokens: users and clients come over, tokens are reported', async (t) => {
  const django = sqliteProject(t)
  await django.exec('alter table oauth2_provider_accesstoken rename column token to token_checksum')
  const report = await importFromDjango({ from: django.url, store: new MemoryStore(), onCollision: 'rename' })
  t.match(report, { users: { created: 8 }, clients: { created: 4 }, tokens: { created: 0, skipped: 14 } })
  t.same(report.notes, ['DOT keeps only hashes of its tokens: no token can be moved, so users log in again'])
  const target = `sqlite:${django.path}.ours`
  const out: string[] = []
  const io = { stdout: (line: string) => out.push(line), stderr: () => {}, env: {} }
  t.equal(await runCli(['--db', target, 'migrate'], io), 0)
  t.equal(await runCli(['--db', target, 'import', 'django', '--from', django.url, '--on-collision', 'rename', '--dry-run'], io), 0)
  t.match(out.join('\n'), /\nnote: DOT keeps only hashes of its tokens: no token can be moved, so users log in again\n/, 'the CLI prints the note')
})

t.test('reading Django: what is refused', async (t) => {
  await t.rejects(readDjango('mysql://u:secret@h/db'), { message: 'unsupported Django database URL "mysql://u:***@h/db": expected sqlite:<path> or postgres://…' })
  const empty = `${sqliteProject(t).path}.empty`
  new Database(empty).close()
  await t.rejects(readDjango(`sqlite:${empty}`), { message: /this is not a Django OAuth Toolkit database/ })
  await t.rejects(readDjango('postgres://u:secret@127.0.0.1:1/db'), { message: /^cannot read the Django database postgres:\/\/u:\*\*\*@127.0.0.1:1\/db: / })
  t.throws(() => djangoTime('yesterday'), { message: 'unreadable Django datetime "yesterday"' })
  t.equal(djangoTime('2020-01-01 02:00:00+02:00'), Date.UTC(2020, 0, 1))
  t.equal(djangoTime(new Date(5)), 5)
  t.ok(DOT_SQLITE.endsWith('dot-1.7.sqlite3'))
})
