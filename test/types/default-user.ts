/**
 * Type tests, default declarations: no `OAuth2ServerTypes` merged, so `request.user` is `{ id, username }`,
 * options and the store interface are checked, and the guard fits @fastify/auth. Compiled by `tsc --noEmit`
 * with the rest of the project; never run.
 */
import fastifyAuth, { type FastifyAuthFunction } from '@fastify/auth'
import Fastify, { type FastifyRequest } from 'fastify'
import oauth2, {
  createClient,
  MemoryStore,
  OAuth2Error,
  type AppUser,
  type BearerStrategy,
  type OAuth2RequestContext,
  type OAuth2ServerOptions,
  type OAuth2Store,
  type OAuth2User,
  type UserSource,
  type UserRecord
} from '../../lib/index.js'
import { authenticateAs, createTestUser, issueTokens, testClock, testHashing, type TestHashing } from '../../lib/testing/index.js'
import { expectType } from './expect-type.js'

const app = Fastify()
const store = new MemoryStore()

// The helper itself: near misses fail.
// @ts-expect-error null is part of the type
expectType<OAuth2User>()(null as OAuth2User | null)
// @ts-expect-error any is not the user type
expectType<any>()({} as OAuth2User)

// The user type defaults to what the store gives: id and username.
expectType<{ id: string, username: string }>()({} as OAuth2User)
expectType<AppUser>()({} as OAuth2User)

app.get('/me', { onRequest: app.oauth2.authenticate() }, async (request) => {
  expectType<OAuth2User | null>()(request.user)
  expectType<OAuth2RequestContext | null>()(request.oauth)
  expectType<OAuth2User | null | undefined>()(request.oauth?.user)
  expectType<string[] | undefined>()(request.oauth?.scopes)
  // @ts-expect-error the default user has no email
  return request.user?.email
})

// The options: each one typed.
const options: OAuth2ServerOptions = {
  store,
  accessTokenTtl: 36_000,
  refreshTokenTtl: 86_400,
  refreshTokenReuseInterval: 5,
  scopes: ['read', 'write'],
  defaultScopes: ['read'],
  decorator: 'account',
  realm: 'api',
  routes: { token: '/oauth/token/', signUp: false },
  passwordPolicy: { minLength: 10, maxLength: 128, validate: async (password, { username }) => password === username ? 'too close to the username' : undefined },
  usernameMaxLength: 150,
  hashing: { concurrency: 2, maxQueue: 100, retryAfter: 1 },
  throttle: { loginFailuresPerUser: 5, window: 900 },
  tokenCache: { max: 1000, ttl: 5 },
  issuer: 'https://auth.example.com',
  bodyLimit: 16_384,
  now: () => Date.now()
}
void app.register(oauth2, options)
void app.register(oauth2, { store, prefix: '/auth' })

// @ts-expect-error the store is required
void app.register(oauth2, {})
// @ts-expect-error accessTokenTtl is a number of seconds, not a string
void app.register(oauth2, { store, accessTokenTtl: '3600' })
// @ts-expect-error refreshTokenTtl is a number
void app.register(oauth2, { store, refreshTokenTtl: true })
// @ts-expect-error scopes is an array of strings
void app.register(oauth2, { store, scopes: 'read write' })
// @ts-expect-error routes.signUp is a path or false, never true
void app.register(oauth2, { store, routes: { signUp: true } })
// @ts-expect-error an unknown option is refused (a typo of accessTokenTtl)
void app.register(oauth2, { store, accessTokenTTL: 60 })
// @ts-expect-error hashing.concurrency is a number
void app.register(oauth2, { store, hashing: { concurrency: '2' } })
// @ts-expect-error passwordPolicy.validate answers a message or undefined, not a boolean
void app.register(oauth2, { store, passwordPolicy: { validate: () => true } })
// @ts-expect-error throttle is limits or false (off), not true
void app.register(oauth2, { store, throttle: true })
// @ts-expect-error tokenCache.ttl is a number of seconds
void app.register(oauth2, { store, tokenCache: { ttl: '5s' } })
// @ts-expect-error now gives milliseconds
void app.register(oauth2, { store, now: () => new Date() })

// A client's grants are the four the server knows.
void createClient(store, { name: 'spa', type: 'public', grants: ['password', 'refresh_token'] })
void createClient(store, { name: 'spa', type: 'public', grants: ['authorization_code'], redirectUris: ['https://app.example/cb'] })
// @ts-expect-error an unknown grant
void createClient(store, { name: 'spa', type: 'public', grants: ['implicit'] })
// @ts-expect-error an unknown client type
void createClient(store, { name: 'spa', type: 'private' })

// The store interface: MemoryStore implements it, and a store missing a method is refused.
const asStore: OAuth2Store = store
void asStore
declare const incomplete: Omit<OAuth2Store, 'rotateRefreshToken'>
// @ts-expect-error a store without rotateRefreshToken
void app.register(oauth2, { store: incomplete })
// @ts-expect-error a custom store class missing methods does not implement OAuth2Store
export class HalfStore implements OAuth2Store {
  async findClient (): Promise<null> { return null }
}
// A store method with the wrong signature is refused too.
declare const wrongLookup: Omit<OAuth2Store, 'findClient'> & { findClient: (id: number) => Promise<null> }
// @ts-expect-error findClient takes a string client_id
void app.register(oauth2, { store: wrongLookup })

// The app's own users: UserSource of the default user type; its methods are typed.
const users: UserSource = {
  findByUsername: async (username) => ({ id: '1', username }),
  findById: async (id) => ({ id, username: 'pony' }),
  verifyPassword: async (_user, password, passwords) => await passwords.verify('hash', password)
}
void app.register(oauth2, { store, users })
// @ts-expect-error findById gives a user with a string id
void app.register(oauth2, { store, users: { ...users, findById: async (id: string) => ({ id: Number(id), username: 'x' }) } })

// Guards: options typed; verifyBearer is a @fastify/auth strategy; errorHandler is a route error handler.
// @ts-expect-error scopes is an array
app.oauth2.authenticate({ scopes: 'write' })
const strategy: BearerStrategy = app.oauth2.verifyBearer({ scopes: ['write'], optional: false })
const apiKey: FastifyAuthFunction = function (request: FastifyRequest, _reply, done) {
  done(request.headers['x-api-key'] === 'k' ? undefined : new OAuth2Error('unauthorized', 'No API key.', 401))
}
void app.register(fastifyAuth).after(() => {
  app.get('/either', { preHandler: app.auth([strategy, apiKey]), errorHandler: app.oauth2.errorHandler }, async (request) => {
    expectType<OAuth2User | null>()(request.user)
    return request.oauth?.clientId
  })
  app.get('/both', { preHandler: app.auth([app.oauth2.verifyBearer(), apiKey], { relation: 'and' }) }, async () => 'ok')
})

// The testing kit: its user is request.user's type; testHashing is the kit's object, never a literal.
void (async () => {
  const issued = await issueTokens(app, { username: 'pony', scopes: ['read'] })
  expectType<{ id: string, username: string }>()(issued.user)
  expectType<string | null>()(issued.refreshToken)
  const headers = await authenticateAs(app, { username: 'pony' })
  await app.inject({ url: '/me', headers })
  // @ts-expect-error scopes is an array
  await authenticateAs(app, { username: 'pony', scopes: 'read' })
  const clock = testClock(new Date())
  void app.register(oauth2, { store, now: clock.now, testHashing })
  const hashing: TestHashing = testHashing
  void hashing
  // @ts-expect-error a look-alike is not the kit's hashing (and fails registration at run time too)
  void app.register(oauth2, { store, testHashing: { argon2: testHashing.argon2 } })
  expectType<UserRecord>()(await createTestUser(store, { username: 'pony', password: 'secret' }))
})
