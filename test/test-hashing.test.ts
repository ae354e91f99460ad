/**
 * Cheap password hashing for tests (`testHashing` from `fastify-oauth2-server/testing`): reachable only
 * through the kit's own object, refused under NODE_ENV=production, and its hashes are argon2id PHC strings
 * that a production app verifies and re-hashes at the pinned parameters.
 */
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import oauth2, { MemoryStore, OAuth2ConfigError, type OAuth2ServerOptions } from '../lib/index.js'
import { PasswordHasher } from '../lib/crypto/passwords.js'
import { createTestClient, createTestUser, testHashing } from '../lib/testing/index.js'

const CHEAP = /^\$argon2id\$v=19\$m=8,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/
const PRODUCTION = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

async function appOn (t: Test, store: MemoryStore, options: Partial<OAuth2ServerOptions> = {}): Promise<{
  signUp: (username: string) => Promise<number>
  login: (username: string) => Promise<number>
}> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(oauth2, { store, throttle: false, ...options })
  const { client } = await createTestClient(store)
  return {
    signUp: async (username) => (await app.inject({ method: 'POST', url: '/sign_up/', payload: { username, password: 'djangsta-secret' } })).statusCode,
    login: async (username) => (await app.inject({
      method: 'POST',
      url: '/o/token/',
      headers: FORM,
      payload: new URLSearchParams({ grant_type: 'password', username, password: 'djangsta-secret', client_id: client.id }).toString()
    })).statusCode
  }
}

async function hashOf (store: MemoryStore, username: string): Promise<string | undefined> {
  return (await store.findUserByUsernameKey(username))?.passwordHash
}

t.test('with testHashing, sign-up and login hash cheaply and keep the cheap hash', async (t) => {
  const store = new MemoryStore()
  const app = await appOn(t, store, { testHashing })
  t.equal(await app.signUp('pony'), 201)
  t.match(await hashOf(store, 'pony'), CHEAP)
  t.equal(await app.login('pony'), 200)
  t.match(await hashOf(store, 'pony'), CHEAP, 'not re-hashed: cheap is current here')
  t.equal(await app.login('nobody'), 400, 'an unknown user is refused (against a cheap dummy hash)')
})

t.test('a production app verifies a cheap hash, and re-hashes it at the pinned parameters', async (t) => {
  const store = new MemoryStore()
  const user = await createTestUser(store, { username: 'pony', password: 'djangsta-secret' })
  t.match(user.passwordHash, CHEAP)
  const production = new PasswordHasher({ concurrency: 1, maxQueue: 1, retryAfter: 1 })
  t.equal(await production.verify(user.passwordHash, 'djangsta-secret'), true)
  t.equal(await production.verify(user.passwordHash, 'wrong'), false)
  t.equal(production.needsRehash(user.passwordHash), true)

  const app = await appOn(t, store)
  t.equal(await app.login('pony'), 200)
  t.match(await hashOf(store, 'pony'), PRODUCTION)
  t.equal(await app.signUp('alice'), 201)
  t.match(await hashOf(store, 'alice'), PRODUCTION, 'without the option, nothing is cheap')
})

t.test('nothing but the kit\'s own object turns cheap hashing on', async (t) => {
  const lookAlikes: unknown[] = [
    { ...testHashing },
    { argon2: { ...testHashing.argon2 } },
    structuredClone(testHashing),
    Object.create(testHashing),
    'test',
    true,
    1,
    null
  ]
  for (const testHashing of lookAlikes) {
    const app = Fastify()
    t.teardown(() => app.close())
    const err = await app.register(oauth2, { store: new MemoryStore(), testHashing } as unknown as OAuth2ServerOptions)
      .ready().then(() => null, (error: unknown) => error)
    t.type(err, OAuth2ConfigError, JSON.stringify(testHashing))
    t.match(err, {
      code: 'FST_OAUTH2_INVALID_OPTION',
      message: 'fastify-oauth2-server: option "testHashing" must be the testHashing object of fastify-oauth2-server/testing (or left out)'
    })
  }
  t.ok(Object.isFrozen(testHashing) && Object.isFrozen(testHashing.argon2), 'frozen: it cannot be made costlier or cheaper either')
})

t.test('refused when NODE_ENV is production', async (t) => {
  const saved = process.env.NODE_ENV
  t.teardown(() => {
    if (saved === undefined) delete process.env.NODE_ENV
    else process.env.NODE_ENV = saved
  })
  process.env.NODE_ENV = 'production'
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => await app.register(oauth2, { store: new MemoryStore(), testHashing }).ready(), {
    code: 'FST_OAUTH2_INVALID_OPTION',
    message: 'fastify-oauth2-server: option "testHashing" must be left out when NODE_ENV is "production": it is for tests only'
  })
})
