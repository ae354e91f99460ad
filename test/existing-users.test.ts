/**
 * Bring your own users (the `users` option): the app keeps its users table, the plugin keeps clients and
 * tokens. The example recipe on Django's `auth_user`, then the option's behaviours on every store.
 */
import { hash } from '@node-rs/argon2'
import { readFileSync } from 'node:fs'
import { sql, type Kysely } from 'kysely'
import t, { type Test } from 'tap'
import {
  djangoUsers,
  openDatabase,
  type DjangoUsersOptions,
  type AppUser,
  type OAuth2ServerOptions,
  type PasswordTools,
  type PasswordVerdict,
  type UserSource
} from '../lib/index.js'
import { hashToken } from '../lib/crypto/tokens.js'
import { verifyDjangoPbkdf2 } from '../lib/crypto/django-hashes.js'
import { AUTH_USER_DDL, buildExistingUsersApp, type AppDatabase } from '../examples/existing-users.js'
import { basic, buildApp, type TestApp } from './fixtures/app.js'
import { forEachStore } from './fixtures/stores.js'

interface Vector { password: string, salt: string, iterations: number, encoded: string }
const VECTORS: Vector[] = JSON.parse(readFileSync(new URL('./fixtures/django-hashes.json', import.meta.url), 'utf8')).vectors
/** The hash of a user made by Django 3.2.25's create_user(), password `djangsta-secret`. */
const DJANGO_PONY = VECTORS[0]!
const DJANGO_UNICODE = VECTORS.find((v) => v.iterations === 600_000)!
const INVALID = { error: 'invalid_grant', error_description: 'Invalid credentials given.' }
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

// ---------------------------------------------------------------------------------------------------------
// The example: Django's auth_user in the app's SQLite file.

/** Every byte the app's table holds: its schema, its rows (as SQL literals) and its AUTOINCREMENT counter. */
async function dumpAuthUser (db: Kysely<AppDatabase>): Promise<unknown> {
  const schema = await sql`select type, name, sql from sqlite_master where tbl_name = 'auth_user' order by name`.execute(db)
  const rows = await sql`select quote(id), quote(password), quote(last_login), quote(is_superuser), quote(username),
    quote(last_name), quote(email), quote(is_staff), quote(is_active), quote(date_joined), quote(first_name)
    from auth_user order by id`.execute(db)
  const sequence = await sql`select seq from sqlite_sequence where name = 'auth_user'`.execute(db)
  return { schema: schema.rows, rows: rows.rows, sequence: sequence.rows }
}

async function passwordOf (db: Kysely<AppDatabase>, id: number): Promise<string> {
  return (await db.selectFrom('auth_user').select('password').where('id', '=', id).executeTakeFirstOrThrow()).password
}

interface DjangoFixture {
  db: Kysely<AppDatabase>
  form: (payload: Record<string, string>) => Promise<{ statusCode: number, json: () => any, body: string }>
  login: (username: string, password: string) => ReturnType<DjangoFixture['form']>
  me: (token: string) => Promise<{ statusCode: number, json: () => any, headers: Record<string, unknown> }>
  app: Awaited<ReturnType<typeof buildExistingUsersApp>>
}

/** A SQLite database as a Django project leaves it (auth_user and its users), and the example app on it. */
async function djangoProject (t: Test, users: DjangoUsersOptions = {}): Promise<DjangoFixture> {
  const { db } = await openDatabase('sqlite::memory:')
  t.teardown(async () => await db.destroy())
  await sql.raw(AUTH_USER_DDL).execute(db)
  const row = { last_login: null, is_superuser: 0, last_name: '', is_staff: 0, date_joined: '2015-06-01 12:00:00.000000', first_name: '' }
  await db.insertInto('auth_user').values([
    { ...row, username: 'django.pony', password: DJANGO_PONY.encoded, email: 'pony@example.com', is_active: 1 },
    { ...row, username: 'retired', password: DJANGO_PONY.encoded, email: '', is_active: 0 },
    { ...row, username: 'jürgen', password: DJANGO_UNICODE.encoded, email: 'j@example.com', is_active: 1 },
    { ...row, username: 'admin', password: '!unusablepasswordmarker1234567890', email: '', is_active: 1, is_superuser: 1 }
  ]).execute()
  const app = await buildExistingUsersApp(db as Kysely<AppDatabase>, users)
  t.teardown(() => app.app.close())
  const form = async (payload: Record<string, string>): Promise<any> => await app.app.inject({
    method: 'POST', url: '/o/token/', headers: FORM, payload: new URLSearchParams(payload).toString()
  })
  return {
    db: db as Kysely<AppDatabase>,
    app,
    form,
    login: async (username, password) => await form({ grant_type: 'password', username, password, client_id: app.publicClientId }),
    me: async (token) => await app.app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })
  }
}

t.test('the example: an existing Django account logs in, calls /me and refreshes; auth_user is left byte for byte', async (t) => {
  const project = await djangoProject(t)
  const { db, login, me, form } = project
  const before = await dumpAuthUser(db)

  const res = await login('django.pony', 'djangsta-secret')
  t.equal(res.statusCode, 200, res.body)
  const tokens = res.json()
  t.match(tokens, { token_type: 'Bearer', scope: 'read write' })
  const profile = await me(tokens.access_token)
  t.equal(profile.statusCode, 200)
  const slash = await project.app.app.inject({ url: '/me/', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.same(slash.json(), profile.json(), 'DOT clients call /me/')
  t.same(profile.json(), { id: '1', username: 'django.pony', email: 'pony@example.com' }, 'the app\'s user, without its hash')

  const refreshed = await form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: project.app.publicClientId })
  t.equal(refreshed.statusCode, 200, refreshed.body)
  t.equal((await me(refreshed.json().access_token)).statusCode, 200)
  t.equal((await me(tokens.access_token)).statusCode, 401, 'the rotated access token is dead')

  // A non-ASCII password against a Django 4.2 hash (600 000 iterations).
  t.equal((await login('jürgen', 'pässwörd 日本 🐴')).statusCode, 200)

  // Every failure is the same invalid_grant: wrong password, unknown user, Django's case-sensitive
  // usernames, an inactive user, and Django's unusable password.
  for (const [username, password] of [
    ['django.pony', 'wrong-password'], ['nobody', 'djangsta-secret'], ['Django.Pony', 'djangsta-secret'],
    ['retired', 'djangsta-secret'], ['admin', '!unusablepasswordmarker1234567890']
  ] as const) {
    const failed = await login(username, password)
    t.equal(failed.statusCode, 400, username)
    t.same(failed.json(), INVALID, username)
  }

  t.same(await dumpAuthUser(db), before, 'auth_user is unchanged: schema, every row, the id counter')
  // The plugin's own tables hold the tokens, under the app's user ids, and no user at all.
  t.same((await sql`select count(*) as n from oauth2_users`.execute(db)).rows, [{ n: 0 }])
  const owners = await sql<{ user_id: string }>`select distinct user_id from oauth2_tokens order by user_id`.execute(db)
  t.same(owners.rows.map((r) => r.user_id), ['1', '3'])
  t.same((await project.app.store.findByAccessTokenHash(hashToken(refreshed.json().access_token)))!.user, null,
    'the store has no user row for the token: the guard asked the app')

  // The app deactivates the user in its own table: the tokens stop working, and so does the refresh token.
  await db.updateTable('auth_user').set({ is_active: 0 }).where('id', '=', 1).execute()
  const gone = await me(refreshed.json().access_token)
  t.equal(gone.statusCode, 401)
  t.match(gone.headers['www-authenticate'], /error="invalid_token"/)
  const refused = await form({ grant_type: 'refresh_token', refresh_token: refreshed.json().refresh_token, client_id: project.app.publicClientId })
  t.equal(refused.statusCode, 400)
  t.equal(refused.json().error, 'invalid_grant')

  // The next start of the app finds its tables migrated and its public client there.
  const restarted = await buildExistingUsersApp(db)
  t.teardown(() => restarted.app.close())
  t.equal(restarted.publicClientId, project.app.publicClientId)
  t.equal((await restarted.store.listClients()).length, 1)
})

t.test('the example with upgradeHashes and hashFormat argon2: only the logged-in user\'s hash changes, to argon2id in Django\'s format', async (t) => {
  const { db, login } = await djangoProject(t, { upgradeHashes: true, hashFormat: 'argon2' })
  const before = await dumpAuthUser(db) as { rows: Array<Record<string, string>> }

  t.equal((await login('django.pony', 'wrong-password')).statusCode, 400)
  t.same(await dumpAuthUser(db), before, 'a failed login writes nothing')

  t.equal((await login('django.pony', 'djangsta-secret')).statusCode, 200)
  const upgraded = await passwordOf(db, 1)
  t.match(upgraded, /^argon2\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/,
    'argon2id with the pinned parameters, prefixed as Django\'s Argon2PasswordHasher writes it')
  const after = await dumpAuthUser(db) as { rows: Array<Record<string, string>> }
  t.same(after.rows.slice(1), before.rows.slice(1), 'every other row is unchanged')
  t.same({ ...after.rows[0], 'quote(password)': null }, { ...before.rows[0], 'quote(password)': null },
    'the logged-in user\'s other columns are unchanged')

  t.equal((await login('django.pony', 'djangsta-secret')).statusCode, 200, 'the new hash verifies')
  t.equal(await passwordOf(db, 1), upgraded, 'a current hash is not rewritten')
  t.same((await login('django.pony', 'djangsta-secret-2')).json(), INVALID)
})

t.test('the example signs users up into auth_user through users.create', async (t) => {
  const { db, login, me, app } = await djangoProject(t)
  const created = await app.app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'new.pony', password: 'new-pony-secret' } })
  t.equal(created.statusCode, 201)
  t.same(created.json(), { id: '5', username: 'new.pony' })
  const row = await db.selectFrom('auth_user').selectAll().where('id', '=', 5).executeTakeFirstOrThrow()
  t.match(row, { username: 'new.pony', is_active: 1, is_staff: 0, is_superuser: 0, email: '', last_login: null })
  t.match(row.password, /^pbkdf2_sha256\$600000\$[A-Za-z0-9]{22}\$[A-Za-z0-9+/]{43}=$/, 'a hash every Django reads')
  t.ok(await verifyDjangoPbkdf2(row.password, 'new-pony-secret'))
  t.match(row.date_joined, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+00:00$/)
  const res = await login('new.pony', 'new-pony-secret')
  t.equal(res.statusCode, 200)
  t.same((await me(res.json().access_token)).json(), { id: '5', username: 'new.pony', email: '' })

  for (const username of ['django.pony', 'retired']) {
    const taken = await app.app.inject({ method: 'POST', url: '/sign_up/', payload: { username, password: 'another-secret' } })
    t.equal(taken.statusCode, 400, username)
    t.same(taken.json(), { error: 'invalid_request', error_description: 'A user with that username already exists.' })
  }
  t.equal(await passwordOf(db, 1), DJANGO_PONY.encoded, 'the existing user\'s password is unchanged')
})

t.test('the example finds nobody by an id that is not one of Django\'s', async (t) => {
  const { db } = await djangoProject(t)
  const users = djangoUsers(db)
  for (const id of ['0', '01', '1.0', 'x', '', '99999999999999999']) t.equal(await users.findById(id), null, id)
  t.same(await users.findById('1'), { id: '1', username: 'django.pony', email: 'pony@example.com' })
})

// ---------------------------------------------------------------------------------------------------------
// The option on every store, with an app whose users live in a Map.

interface MapUser { id: string, username: string, passwordHash: string, email: string }

interface Calls {
  findByUsername: string[]
  findById: string[]
  verifyPassword: string[]
  create: Array<{ username: string, password: string }>
  updatePasswordHash: Array<[string, string]>
}

/** The app's users in a Map; `findById` answers without the hash. Records every call. */
function mapUsers (users: MapUser[], overrides: Partial<UserSource<AppUser & { email: string }, MapUser>> = {}): {
  source: UserSource<AppUser & { email: string }, MapUser>
  calls: Calls
  table: Map<string, MapUser>
} {
  const table = new Map(users.map((u) => [u.id, { ...u }]))
  const calls: Calls = { findByUsername: [], findById: [], verifyPassword: [], create: [], updatePasswordHash: [] }
  const source: UserSource<AppUser & { email: string }, MapUser> = {
    async findByUsername (username) {
      calls.findByUsername.push(username)
      const user = [...table.values()].find((u) => u.username === username)
      return user === undefined ? null : { ...user }
    },
    async findById (id) {
      calls.findById.push(id)
      const user = table.get(id)
      return user === undefined ? null : { id: user.id, username: user.username, email: user.email }
    },
    async verifyPassword (user, password, passwords) {
      calls.verifyPassword.push(user.id)
      return await passwords.verify(user.passwordHash, password)
    },
    ...overrides
  }
  return { source, calls, table }
}

async function app (t: Test, source: UserSource<any, any>, options: Partial<OAuth2ServerOptions> = {}): Promise<TestApp> {
  return await buildApp(t, { users: source, ...options })
}

const ARGON2_CURRENT = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

forEachStore(t, async (t, open, name) => {
  t.test(`login, /me, refresh and a deleted user (${name})`, async (t) => {
    const store = await open(t)
    const { source, calls, table } = mapUsers([
      { id: 'app-7', username: 'pony', passwordHash: await hash('djangsta-secret', ARGON2_CURRENT), email: 'pony@example.com' }
    ])
    const ctx = await app(t, source, { store })
    const res = await ctx.login('pony', 'djangsta-secret')
    t.equal(res.statusCode, 200, res.body)
    const me = await ctx.me(res.json().access_token)
    t.equal(me.statusCode, 200)
    t.same(me.json().user, { id: 'app-7', username: 'pony', email: 'pony@example.com' })
    t.match(me.json().oauth, { user: { id: 'app-7', email: 'pony@example.com' }, clientId: ctx.publicId })
    t.same(calls.findById, ['app-7'], 'the guard asked the app')
    t.same(calls.updatePasswordHash, [], 'a current hash is not re-hashed')

    const refreshed = await ctx.refresh(res.json().refresh_token)
    t.equal(refreshed.statusCode, 200, refreshed.body)
    t.equal((await ctx.me(refreshed.json().access_token)).statusCode, 200)
    t.equal(await store.findUserById('app-7'), null, 'the store holds no user')
    t.equal(await store.revokeUserTokens('app-7', Date.now()), 2, 'the family\'s records are found by the app\'s user id')

    const again = await ctx.login('pony', 'djangsta-secret')
    table.delete('app-7')
    const gone = await ctx.me(again.json().access_token)
    t.equal(gone.statusCode, 401)
    t.same(gone.json(), { error: 'invalid_token', error_description: 'The access token is invalid.' })
    const refused = await ctx.refresh(again.json().refresh_token)
    t.equal(refused.statusCode, 400)
    t.equal(refused.json().error, 'invalid_grant')
  })
})

// ---------------------------------------------------------------------------------------------------------
// The option's behaviours, on the memory store.

t.test('an unknown user costs a dummy argon2id verification through the queue and gets the same answer', async (t) => {
  const { source, calls } = mapUsers([{ id: '1', username: 'pony', passwordHash: await hash('djangsta-secret', ARGON2_CURRENT), email: '' }])
  const ctx = await app(t, source)
  const wrong = await ctx.login('pony', 'not-the-password')
  const unknown = await ctx.login('nobody', 'djangsta-secret')
  const huge = await ctx.login('p'.repeat(151), 'djangsta-secret')
  for (const res of [wrong, unknown, huge]) {
    t.equal(res.statusCode, 400)
    t.same(res.json(), INVALID)
  }
  t.equal(wrong.body, unknown.body)
  t.same(calls.findByUsername, ['pony', 'nobody'], 'a username past usernameMaxLength is never looked up')
  t.same(calls.verifyPassword, ['1'], 'the app verifies only users it found')

  // With one hashing slot and no queue, two concurrent unknown-user logins cannot both verify: the dummy
  // verification takes a slot like a real one.
  const tight = await app(t, mapUsers([]).source, { hashing: { concurrency: 1, maxQueue: 0 } })
  const results = await Promise.all([tight.login('nobody', 'password-1'), tight.login('nobody', 'password-2')])
  t.same(results.map((r) => r.statusCode).sort(), [400, 503])
})

t.test('usernames reach the app as the client sent them', async (t) => {
  const { source, calls } = mapUsers([])
  const ctx = await app(t, source)
  await ctx.login('Ｐｏｎｙ ', 'djangsta-secret')
  t.same(calls.findByUsername, ['Ｐｏｎｙ '])
})

t.test('verifyPassword answering \'rehash\' stores a new argon2id hash through users.updatePasswordHash', async (t) => {
  const { source, calls, table } = mapUsers([{ id: '1', username: 'pony', passwordHash: DJANGO_PONY.encoded, email: '' }], {
    async verifyPassword (user, password, passwords) {
      if (!await passwords.verify(user.passwordHash, password)) return false
      return passwords.needsRehash(user.passwordHash) ? 'rehash' : true
    },
    async updatePasswordHash (user, passwordHash) {
      calls.updatePasswordHash.push([user.id, passwordHash])
      table.get(user.id)!.passwordHash = passwordHash
    }
  })
  const ctx = await app(t, source)
  t.equal((await ctx.login('pony', 'wrong-password')).statusCode, 400)
  t.same(calls.updatePasswordHash, [])
  t.equal((await ctx.login('pony', 'djangsta-secret')).statusCode, 200)
  t.equal(calls.updatePasswordHash.length, 1)
  const [id, stored] = calls.updatePasswordHash[0]!
  t.equal(id, '1')
  t.match(stored, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  t.equal((await ctx.login('pony', 'djangsta-secret')).statusCode, 200, 'the new hash verifies')
  t.equal(calls.updatePasswordHash.length, 1, 'and is current: no second re-hash')
})

t.test('\'rehash\' without users.updatePasswordHash is a plain success', async (t) => {
  const { source } = mapUsers([{ id: '1', username: 'pony', passwordHash: 'ignored', email: '' }], {
    async verifyPassword () { return 'rehash' }
  })
  const ctx = await app(t, source)
  t.equal((await ctx.login('pony', 'anything-at-all')).statusCode, 200)
})

t.test('anything but true or \'rehash\' from verifyPassword is a wrong password', async (t) => {
  for (const verdict of [false, 'yes', 1, null, undefined]) {
    const { source } = mapUsers([{ id: '1', username: 'pony', passwordHash: 'x', email: '' }], {
      verifyPassword: async () => verdict as PasswordVerdict
    })
    const ctx = await app(t, source)
    t.same((await ctx.login('pony', 'djangsta-secret')).json(), INVALID, String(verdict))
  }
})

/** How the plugin answers a failing store or user source: 503 with Retry-After, nothing internal. */
const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'The server cannot handle the request now: retry later.' }
const SERVER_ERROR = { error: 'server_error', error_description: 'The server encountered an unexpected error.' }

t.test('a numeric user id is a programmer error: 500 server_error, nothing issued', async (t) => {
  const { source } = mapUsers([], {
    findByUsername: async () => ({ id: 7 as unknown as string, username: 'pony', passwordHash: 'x', email: '' }),
    verifyPassword: async () => true
  })
  const ctx = await app(t, source)
  const res = await ctx.login('pony', 'djangsta-secret')
  t.equal(res.statusCode, 500)
  t.same(res.json(), SERVER_ERROR, 'the reason is logged, not sent')
  t.equal(await ctx.store.revokeUserTokens('7', 0), 0, 'no token was issued')
})

t.test('a failing user source: 503 at login, refresh and in the guard', async (t) => {
  const { source, table } = mapUsers([{ id: '1', username: 'pony', passwordHash: await hash('djangsta-secret', ARGON2_CURRENT), email: '' }])
  const ctx = await app(t, source)
  const tokens = (await ctx.login('pony', 'djangsta-secret')).json()
  const down = async (): Promise<never> => { throw new Error('connection refused') }
  source.findById = down
  source.findByUsername = down
  for (const res of [await ctx.me(tokens.access_token), await ctx.refresh(tokens.refresh_token), await ctx.login('pony', 'djangsta-secret')]) {
    t.equal(res.statusCode, 503)
    t.same(res.json(), UNAVAILABLE)
    t.equal(res.headers['retry-after'], '1')
  }
  t.ok(table.has('1'))
  const found = await ctx.store.findByRefreshTokenHash(hashToken(tokens.refresh_token))
  t.equal(found!.rotatedAt, null, 'the refresh token was not spent')
})

t.test('request.user is the very object findById returns (without tokenCache)', async (t) => {
  const returned: unknown[] = []
  const { source } = mapUsers([{ id: '1', username: 'pony', passwordHash: await hash('djangsta-secret', ARGON2_CURRENT), email: 'e' }])
  const findById = source.findById.bind(source)
  source.findById = async (id) => {
    const user = await findById(id)
    returned.push(user)
    return user
  }
  const seen: unknown[] = []
  const ctx = await buildApp(t, { users: source }, undefined, (app) => {
    app.get('/same', { onRequest: app.oauth2.authenticate() }, async (request) => {
      seen.push(request.user, request.oauth?.user)
      return { ok: true }
    })
  })
  const token = (await ctx.login('pony', 'djangsta-secret')).json().access_token
  t.equal((await ctx.app.inject({ url: '/same', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  t.equal(seen[0], returned[0])
  t.equal(seen[1], returned[0])
})

t.test('a client-credentials token has no user: the app is not asked', async (t) => {
  const { source, calls } = mapUsers([])
  const ctx = await app(t, source)
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/o/token/',
    headers: { ...FORM, authorization: basic(ctx.confidentialId, ctx.confidentialSecret) },
    payload: 'grant_type=client_credentials'
  })
  t.equal(res.statusCode, 200)
  const me = await ctx.me(res.json().access_token)
  t.equal(me.statusCode, 200)
  t.equal(me.json().user, null)
  t.equal(me.json().oauth.user, null)
  t.same(calls.findById, [])
})

t.test('a dead token is refused before the app is asked', async (t) => {
  const { source, calls } = mapUsers([{ id: '1', username: 'pony', passwordHash: await hash('djangsta-secret', ARGON2_CURRENT), email: '' }])
  const ctx = await app(t, source)
  const tokens = (await ctx.login('pony', 'djangsta-secret')).json()
  t.equal((await ctx.refresh(tokens.refresh_token)).statusCode, 200)
  const before = calls.findById.length
  t.equal((await ctx.me(tokens.access_token)).statusCode, 401, 'rotated')
  t.equal(calls.findById.length, before)
})

t.test('sign-up with users.create: the checked name and password go to the app', async (t) => {
  const tools: PasswordTools[] = []
  const { source, calls, table } = mapUsers([{ id: '1', username: 'taken', passwordHash: 'x', email: '' }], {
    async create (user, passwords) {
      calls.create.push(user)
      tools.push(passwords)
      if (user.username === 'racer') return null
      const id = String(table.size + 1)
      table.set(id, { id, username: user.username, passwordHash: await passwords.hash(user.password), email: '' })
      return { id, username: user.username }
    }
  })
  const ctx = await app(t, source)
  const created = await ctx.signUp('ｐｏｎｙ', 'djangsta-secret')
  t.equal(created.statusCode, 201)
  t.same(created.json(), { id: '2', username: 'pony' }, 'NFKC-normalized before the app sees it')
  t.same(calls.create, [{ username: 'pony', password: 'djangsta-secret' }])
  t.match(table.get('2')!.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  t.equal((await ctx.login('pony', 'djangsta-secret')).statusCode, 200)

  // The tools: argon2id hashing, verification of argon2 and Django hashes, needsRehash.
  const passwords = tools[0]!
  t.ok(Object.isFrozen(passwords))
  t.ok(await passwords.verify(DJANGO_PONY.encoded, 'djangsta-secret'))
  t.notOk(await passwords.verify(DJANGO_PONY.encoded, 'djangsta-secret!'))
  t.ok(passwords.needsRehash(DJANGO_PONY.encoded))
  t.notOk(passwords.needsRehash(table.get('2')!.passwordHash))

  for (const [username, password, description] of [
    ['taken', 'djangsta-secret', 'A user with that username already exists.'],
    ['racer', 'djangsta-secret', 'A user with that username already exists.'],
    ['a b', 'djangsta-secret', 'The username may contain only letters, numbers, and @/./+/-/_ characters.'],
    ['short', 'short', 'The password must have at least 8 characters.']
  ] as const) {
    const res = await ctx.signUp(username, password)
    t.equal(res.statusCode, 400, username)
    t.same(res.json(), { error: 'invalid_request', error_description: description }, username)
  }
  t.same(calls.create.map((c) => c.username), ['pony', 'racer'], 'a taken name found first, or a refused input, never reaches create')
})

t.test('sign-up: a numeric id from users.create is a programmer error, answered 500 server_error', async (t) => {
  const { source } = mapUsers([], { create: async (user) => ({ id: 3 as unknown as string, username: user.username }) })
  const ctx = await app(t, source)
  const res = await ctx.signUp('pony', 'djangsta-secret')
  t.equal(res.statusCode, 500)
  t.same(res.json(), SERVER_ERROR)
})

t.test('without users.create there is no sign-up route', async (t) => {
  const { source } = mapUsers([])
  const ctx = await app(t, source)
  t.equal((await ctx.signUp('pony', 'djangsta-secret')).statusCode, 404)
  t.equal((await ctx.app.inject({ method: 'POST', url: '/sign_up', payload: { username: 'pony', password: 'djangsta-secret' } })).statusCode, 404)
})
