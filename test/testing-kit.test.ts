/**
 * The testing kit (`fastify-oauth2-server/testing`): `authenticateAs` and `issueTokens` mint working tokens
 * straight into the store, `testClock` moves the plugin's clock, `createTestUser` and `createTestClient`
 * fill a store for tests that log in through `/o/token/`.
 */
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import oauth2, { MemoryStore, type AppUser, type OAuth2ServerOptions, type UserSource } from '../lib/index.js'
import { hashToken } from '../lib/crypto/tokens.js'
import {
  authenticateAs,
  createTestClient,
  createTestUser,
  issueTokens,
  testClock,
  testHashing
} from '../lib/testing/index.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** An app as a user writes one: the plugin, and a guarded `/me` that needs `read`. */
async function appWith (t: Test, options: Partial<OAuth2ServerOptions> = {}): Promise<{ app: FastifyInstance, store: MemoryStore }> {
  const store = new MemoryStore()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(oauth2, { store, testHashing, ...options } as OAuth2ServerOptions)
  app.get('/me', { onRequest: app.oauth2.authenticate({ scopes: ['read'] }) }, async (request) => ({
    user: request.user,
    scopes: request.oauth?.scopes
  }))
  app.get('/admin', { onRequest: app.oauth2.authenticate({ scopes: ['write'] }) }, async () => ({ ok: true }))
  return { app, store: options.store as MemoryStore | undefined ?? store }
}

async function form (app: FastifyInstance, payload: Record<string, string>): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/o/token/', headers: FORM, payload: new URLSearchParams(payload).toString() })
}

t.test('authenticateAs: one call, and a guarded route answers as for a logged-in user', async (t) => {
  const { app, store } = await appWith(t)
  const headers = await authenticateAs(app, { username: 'alice', scopes: ['read'] })
  t.match(headers, { authorization: /^Bearer [A-Za-z0-9_-]{43}$/ })
  const res = await app.inject({ url: '/me', headers })
  t.equal(res.statusCode, 200)
  const alice = await store.findUserByUsernameKey('alice')
  t.same(res.json(), { user: { id: alice?.id, username: 'alice' }, scopes: ['read'] })

  // The token is in the store as a hash only, as after a login.
  const token = headers.authorization.slice('Bearer '.length)
  t.equal((await store.findByAccessTokenHash(hashToken(token)))?.token.userId, alice?.id)
  t.equal(await store.findByAccessTokenHash(token), null, 'the plaintext token is not a key')

  const forbidden = await app.inject({ url: '/admin', headers })
  t.equal(forbidden.statusCode, 403)
  t.match(forbidden.headers['www-authenticate'], /error="insufficient_scope"/)
})

t.test('authenticateAs: the user created has no usable password; an existing user is reused', async (t) => {
  const { app, store } = await appWith(t)
  const signUp = await app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'Pony', password: 'djangsta-secret' } })
  t.equal(signUp.statusCode, 201)
  const me = await app.inject({ url: '/me', headers: await authenticateAs(app, { username: 'PONY' }) })
  t.same(me.json(), { user: signUp.json(), scopes: ['read', 'write'] }, 'found case-insensitively; default scopes')

  await authenticateAs(app, { username: 'alice' })
  const { client } = await createTestClient(store)
  for (const password of ['', '!', 'djangsta-secret']) {
    const login = await form(app, { grant_type: 'password', username: 'alice', password, client_id: client.id })
    t.equal(login.statusCode, 400, `password ${JSON.stringify(password)}`)
  }
})

t.test('authenticateAs: concurrent calls for one new user make one user', async (t) => {
  const { app } = await appWith(t)
  const [a, b] = await Promise.all([
    issueTokens(app, { username: 'bob' }),
    issueTokens(app, { username: 'bob' })
  ])
  t.equal(a.user.id, b.user.id)
  t.equal(a.clientId, b.clientId, 'one kit client per app')
  for (const { headers } of [a, b]) t.equal((await app.inject({ url: '/me', headers })).statusCode, 200)
})

t.test('issueTokens: a refresh token that works at /o/token/, and rotation as in production', async (t) => {
  const { app } = await appWith(t)
  const issued = await issueTokens(app, { username: 'alice', scopes: ['read', 'write'] })
  t.same(issued.scopes, ['read', 'write'])
  t.same(issued.user, { id: issued.user.id, username: 'alice' })
  t.type(issued.refreshToken, 'string')
  const refreshed = await form(app, { grant_type: 'refresh_token', refresh_token: issued.refreshToken as string, client_id: issued.clientId })
  t.equal(refreshed.statusCode, 200)
  t.equal(refreshed.json().scope, 'read write')
  const old = await app.inject({ url: '/me', headers: issued.headers })
  t.equal(old.statusCode, 401, 'the rotated access token is refused')
  const fresh = await app.inject({ url: '/me', headers: { authorization: `Bearer ${refreshed.json().access_token}` } })
  t.equal(fresh.statusCode, 200)
})

t.test('issueTokens: for a given client, with its grants', async (t) => {
  const { app, store } = await appWith(t)
  const { client } = await createTestClient(store, { type: 'confidential', grants: ['password'] })
  const issued = await issueTokens(app, { username: 'alice', clientId: client.id })
  t.equal(issued.clientId, client.id)
  t.equal(issued.refreshToken, null, 'no refresh_token grant, no refresh token')
  t.equal((await app.inject({ url: '/me', headers: issued.headers })).statusCode, 200)
})

t.test('testClock: expiry follows the plugin clock', async (t) => {
  const clock = testClock(new Date('2026-06-01T00:00:00Z'))
  t.equal(clock.now(), Date.UTC(2026, 5, 1))
  const { app } = await appWith(t, { now: clock.now, accessTokenTtl: 60 })
  const issued = await issueTokens(app, { username: 'alice' })
  t.same(issued.expiresAt, new Date('2026-06-01T00:01:00Z'))
  clock.advance(59)
  t.equal((await app.inject({ url: '/me', headers: issued.headers })).statusCode, 200)
  clock.advance(1)
  const expired = await app.inject({ url: '/me', headers: issued.headers })
  t.equal(expired.statusCode, 401)
  t.match(expired.json(), { error: 'invalid_token', error_description: 'The access token has expired.' })
  clock.advance(-1)
  t.equal((await app.inject({ url: '/me', headers: issued.headers })).statusCode, 200, 'and back')

  const real = testClock()
  t.ok(Math.abs(real.now() - Date.now()) < 5000, 'starts at the real time by default')
  t.throws(() => testClock(Number.NaN), new TypeError('testClock: start must be a finite number'))
  t.throws(() => real.advance(Infinity), new TypeError('testClock: advance(seconds) must be a finite number'))
  t.throws(() => real.advance('1' as unknown as number), TypeError)
})

t.test('the kit refuses what the server would refuse, and says why', async (t) => {
  const { app, store } = await appWith(t, { scopes: ['read', 'write', 'admin'], defaultScopes: ['read'] })
  await t.rejects(authenticateAs(app, { username: 'alice', scopes: ['delete'] }),
    new TypeError('fastify-oauth2-server/testing: The scope "delete" is unknown or not allowed for this client.'))
  await t.rejects(authenticateAs(app, { username: 'alice', scopes: [] }),
    new TypeError('fastify-oauth2-server/testing: The scope parameter is empty.'))
  await t.rejects(authenticateAs(app, { username: 'no spaces please' }),
    new TypeError('fastify-oauth2-server/testing: The username may contain only letters, numbers, and @/./+/-/_ characters.'))
  await t.rejects(authenticateAs(app, { username: 'alice', clientId: 'nope' }),
    new TypeError('fastify-oauth2-server/testing: no client "nope" in the store'))
  const { client } = await createTestClient(store, { scopes: ['admin'] })
  await t.rejects(authenticateAs(app, { username: 'alice', clientId: client.id }),
    new TypeError('fastify-oauth2-server/testing: No default scope is allowed for this client: ask for a scope.'))
  const admin = await authenticateAs(app, { username: 'alice', clientId: client.id, scopes: ['admin'] })
  t.equal((await app.inject({ url: '/me', headers: admin })).statusCode, 403)

  const bare = Fastify()
  t.teardown(() => bare.close())
  await t.rejects(authenticateAs(bare, { username: 'alice' }),
    new TypeError('fastify-oauth2-server/testing: this app has no fastify-oauth2-server (await app.register(oauth2, options) first)'))
  bare.decorate('oauth2', { ...app.oauth2 })
  await t.rejects(authenticateAs(bare, { username: 'alice' }), TypeError, 'a look-alike app.oauth2 is not the plugin')
})

t.test('the kit client is added again after a store failure', async (t) => {
  class FlakyStore extends MemoryStore {
    failures = 1
    override async createClient (...args: Parameters<MemoryStore['createClient']>): Promise<void> {
      if (this.failures-- > 0) throw new Error('database down')
      return await super.createClient(...args)
    }
  }
  const store = new FlakyStore()
  const { app } = await appWith(t, { store })
  await t.rejects(authenticateAs(app, { username: 'alice' }), new Error('database down'))
  const headers = await authenticateAs(app, { username: 'alice' })
  t.equal((await app.inject({ url: '/me', headers })).statusCode, 200)
})

t.test("with the app's own users: found by users.findByUsername, request.user from users.findById", async (t) => {
  interface Account extends AppUser { email: string }
  const accounts: Array<Omit<Account, 'id'> & { id: unknown }> = [
    { id: '7', username: 'alice', email: 'alice@example.com' },
    { id: 8, username: 'numeric', email: 'n@example.com' },
    { id: '9', username: 'ghost', email: 'ghost@example.com' }
  ]
  const users: UserSource<Account> = {
    findByUsername: async (username) => accounts.find((a) => a.username === username) as Account ?? null,
    findById: async (id) => id === '9' ? null : accounts.find((a) => a.id === id) as Account ?? null,
    verifyPassword: async () => false
  }
  const { app, store } = await appWith(t, { users } as Partial<OAuth2ServerOptions>)
  const issued = await issueTokens(app, { username: 'alice', scopes: ['read'] })
  t.same(issued.user, { id: '7', username: 'alice', email: 'alice@example.com' })
  const me = await app.inject({ url: '/me', headers: issued.headers })
  t.equal(me.statusCode, 200)
  t.same(me.json().user, issued.user)
  t.equal(await store.findUserByUsernameKey('alice'), null, 'nothing added to the store')

  await t.rejects(authenticateAs(app, { username: 'bob' }),
    new TypeError('fastify-oauth2-server/testing: users.findByUsername("bob") found nobody; the kit cannot add users to the app\'s own table: add "bob" there first'))
  await t.rejects(authenticateAs(app, { username: 'numeric' }),
    new TypeError('fastify-oauth2-server/testing: users.findByUsername("numeric") gave an id that is not a string'))
  await t.rejects(authenticateAs(app, { username: 'ghost' }),
    new TypeError('fastify-oauth2-server/testing: the guard would find no user "ghost" for this token (users.findById gave null?)'))
})

t.test('createTestUser: a user who logs in through /o/token/, without /sign_up/', async (t) => {
  const { app, store } = await appWith(t)
  const user = await createTestUser(store, { username: 'Ｐony', password: 'djangsta-secret' })
  t.match(user, { username: 'Pony', usernameKey: 'pony' })
  t.match(user.passwordHash, /^\$argon2id\$v=19\$m=8,t=1,p=1\$/)
  const { client } = await createTestClient(store)
  t.match(client, { name: 'test client', type: 'public', grants: ['password', 'refresh_token'] })
  const login = await form(app, { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: client.id })
  t.equal(login.statusCode, 200)
  const me = await app.inject({ url: '/me', headers: { authorization: `Bearer ${login.json().access_token}` } })
  t.same(me.json().user, { id: user.id, username: 'Pony' })

  const withId = await createTestUser(store, { username: 'carol', id: 'user-3' })
  t.equal(withId.id, 'user-3')
  t.match(withId.passwordHash, /^!/, 'no password: unusable')
  await t.rejects(createTestUser(store, { username: 'PONY', password: 'x' }), new TypeError('createTestUser: the username "PONY" is taken'))
  await t.rejects(createTestUser(store, { username: '' }), new TypeError('createTestUser: The username may not be blank.'))

  const confidential = await createTestClient(store, { type: 'confidential', name: 'backend' })
  t.type(confidential.clientSecret, 'string')
  t.equal(confidential.client.name, 'backend')
})
