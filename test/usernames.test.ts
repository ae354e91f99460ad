/**
 * Usernames: one length rule at sign-up and login (code points after NFKC), uniqueness by Unicode case
 * folding, text that is not valid Unicode refused at login as at sign-up, and stores migrated from the
 * lower-cased keys of 0.1 keep every user able to log in.
 */
import { Migrator, sql } from 'kysely'
import t from 'tap'
import { KyselyStore, MemoryStore, openDatabase } from '../lib/index.js'
import { migrationTableNames, OAuth2MigrationProvider } from '../lib/store/kysely/migrations.js'
import { legacyUsernameKey, usernameKey } from '../lib/users.js'
import { hash } from '@node-rs/argon2'
import fc from 'fast-check'
import { buildApp } from './fixtures/app.js'
import { forEachStore } from './fixtures/stores.js'

t.test('an ASCII username gets the key the full folding gives it (the shortcut changes no key)', async (t) => {
  const folded = (name: string): string =>
    name.normalize('NFKC').toUpperCase().toLowerCase().replaceAll('\u03C2', '\u03C3').normalize('NFKC')
  const names = Array.from({ length: 128 }, (_, code) => `a${String.fromCharCode(code)}Z`)
  t.same(names.filter((name) => usernameKey(name) !== folded(name)), [], 'every ASCII character')
  fc.assert(fc.property(fc.string({ unit: 'binary-ascii', maxLength: 40 }), (name) => usernameKey(name) === folded(name)))
  t.equal(usernameKey('Bench-User_1@Example.COM'), 'bench-user_1@example.com')
  t.equal(usernameKey('Ünïcode'), 'ünïcode', 'past ASCII, the full folding')
  t.equal(usernameKey('ÅNGSTRÖM'), usernameKey('\u212Bngstro\u0308m'), 'past ASCII, NFKC too')
})

t.test('the folded key: ß is ss, a final sigma is a sigma, NFKC before and after', async (t) => {
  t.equal(usernameKey('STRASSE'), usernameKey('straße'))
  t.equal(usernameKey('ΟΔΟΣ'), usernameKey('οδος'))
  t.equal(usernameKey('ΟΔΟΣ'), 'οδοσ')
  t.equal(usernameKey('ﬁle'), 'file', 'a ligature is its letters')
  t.equal(usernameKey('Pony'), legacyUsernameKey('Pony'), 'ASCII names keep their key')
  t.not(usernameKey('İstanbul'), usernameKey('istanbul'), 'the dotted capital I keeps its dot, as in Unicode case folding')
})

forEachStore(t, async (t, open) => {
  t.test('names equal under case folding are one user', async (t) => {
    const ctx = await buildApp(t, { store: await open(t) })
    t.equal((await ctx.signUp('straße', 'djangsta-secret')).statusCode, 201)
    const taken = await ctx.signUp('STRASSE', 'other-secret')
    t.equal(taken.statusCode, 400)
    t.same(taken.json(), { error: 'invalid_request', error_description: 'A user with that username already exists.' })
    t.equal((await ctx.login('Strasse', 'djangsta-secret')).statusCode, 200, 'any folding of the name logs in')

    t.equal((await ctx.signUp('ΟΔΟΣ', 'djangsta-secret')).statusCode, 201)
    t.equal((await ctx.signUp('οδος', 'other-secret')).statusCode, 400)
    t.equal((await ctx.login('οδοσ', 'djangsta-secret')).statusCode, 200)
    t.equal(await ctx.store.findUserByUsernameKey('οδος'), null, 'only the folded key is stored')
  })

  t.test('a name of the longest length signs up and logs in, whatever its UTF-16 length', async (t) => {
    const ctx = await buildApp(t, { store: await open(t) })
    const name = '\u{20000}'.repeat(142) + 'abcdefgh'
    t.equal(name.length, 292, 'UTF-16 units')
    t.equal((await ctx.signUp(name, 'djangsta-secret')).statusCode, 201)
    t.equal((await ctx.login(name, 'djangsta-secret')).statusCode, 200)
    const longer = '\u{20000}' + name
    const refused = await ctx.signUp(longer, 'djangsta-secret')
    t.same(refused.json(), { error: 'invalid_request', error_description: 'The username may have at most 150 characters.' })
    t.equal((await ctx.login(longer, 'djangsta-secret')).json().error, 'invalid_grant', 'too long at login: an unknown user')
  })
})

t.test('text that is not valid Unicode is refused at login, before the throttle counts it', async (t) => {
  const store = new MemoryStore()
  const ctx = await buildApp(t, { store, throttle: { loginFailuresPerUser: 1 } })
  await ctx.signUp('pony', 'djangsta-secret')
  // JSON escapes carry a lone surrogate as it is (a form would carry U+FFFD instead).
  for (const [username, password] of [['pony', 'djangsta-\\ud800'], ['pony\\udc00', 'djangsta-secret']]) {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/o/token/',
      headers: { 'content-type': 'application/json' },
      payload: `{"grant_type":"password","client_id":"${ctx.publicId}","username":"${username}","password":"${password}"}`
    })
    t.equal(res.statusCode, 400)
    t.same(res.json(), { error: 'invalid_request', error_description: 'The username and password must be valid Unicode text.' })
  }
  t.equal((await ctx.login('pony', 'djangsta-secret')).statusCode, 200, 'nothing was counted')
})

t.test('migrating a 0.1 store: keys are folded, a clash keeps its old key, and everyone logs in', async (t) => {
  const { db } = await openDatabase('sqlite::memory:')
  t.teardown(async () => await db.destroy())
  const migrator = new Migrator({ db, provider: new OAuth2MigrationProvider('oauth2_'), ...migrationTableNames('oauth2_') })
  t.equal((await migrator.migrateTo('0003_refresh_exchanges')).error, undefined)
  const passwordHash = await hash('djangsta-secret', { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 })
  // Three users as 0.1 stored them: two whose folded keys clash, one whose key changes alone.
  const users = [['1', 'Straße'], ['2', 'strasse'], ['3', 'ΟΔΟΣ'], ['4', 'pony']]
  for (const [id, username] of users) {
    await db.insertInto('oauth2_users')
      .values({ id, username, username_key: legacyUsernameKey(username!), password_hash: passwordHash, created_at: 0 })
      .execute()
  }
  const store = new KyselyStore({ db })
  await store.migrate()
  const { rows } = await sql<{ id: string, username_key: string }>`select id, username_key from oauth2_users order by id`.execute(db)
  t.same(rows, [
    { id: '1', username_key: 'straße' },
    { id: '2', username_key: 'strasse' },
    { id: '3', username_key: 'οδοσ' },
    { id: '4', username_key: 'pony' }
  ], 'the clash keeps its old key; the rest are folded')

  const ctx = await buildApp(t, { store })
  const idOf = async (username: string): Promise<string> => {
    const res = await ctx.login(username, 'djangsta-secret')
    t.equal(res.statusCode, 200, username)
    return (await ctx.me(res.json().access_token)).json().user.id
  }
  t.equal(await idOf('straße'), '1', 'the clashing user, by the old key')
  t.equal(await idOf('STRAßE'), '1')
  t.equal(await idOf('strasse'), '2')
  t.equal(await idOf('οδος'), '3', 'by the folded key')
  t.equal(await idOf('ΟΔΟΣ'), '3')
  t.equal((await ctx.signUp('STRASSE', 'djangsta-secret')).statusCode, 400, 'no new clash can be made')
})

t.test('the case-fold migration reads users in batches', async (t) => {
  const { db } = await openDatabase('sqlite::memory:')
  t.teardown(async () => await db.destroy())
  const migrator = new Migrator({ db, provider: new OAuth2MigrationProvider('oauth2_'), ...migrationTableNames('oauth2_') })
  await migrator.migrateTo('0003_refresh_exchanges')
  const count = 2500
  for (let start = 0; start < count; start += 500) {
    await db.insertInto('oauth2_users').values(Array.from({ length: 500 }, (_, i) => {
      const n = String(start + i).padStart(5, '0')
      return { id: n, username: `Straße${n}`, username_key: `straße${n}`, password_hash: 'x', created_at: 0 }
    })).execute()
  }
  await new KyselyStore({ db }).migrate()
  const { rows } = await sql<{ n: number }>`select count(*) as n from oauth2_users where username_key like 'strasse%'`.execute(db)
  t.equal(Number(rows[0]!.n), count, 'every batch was folded')
})
