/**
 * Options are checked first: registration fails with a stable code and a message naming the bad option.
 * Then the options that change what a client sees, and how the plugin sits next to the app's own plugins.
 */
import { availableParallelism } from 'node:os'
import formbody from '@fastify/formbody'
import Fastify, { type FastifyInstance, type FastifyServerOptions, type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import oauth2, { createClient, MemoryStore, OAuth2ConfigError, type OAuth2ServerOptions, type OAuth2Store } from '../lib/index.js'
import { hashToken } from '../lib/crypto/tokens.js'
import { defaultHashingConcurrency, resolveOptions } from '../lib/options.js'
import { buildApp, loggedIn, T0 } from './fixtures/app.js'

const FORM = 'application/x-www-form-urlencoded'

/** Registers the plugin with `options` and returns what `ready()` rejected with (undefined if it did not). */
async function registrationError (t: Test, options: unknown, setup?: (app: FastifyInstance) => void): Promise<unknown> {
  const app = Fastify()
  t.teardown(() => app.close())
  setup?.(app)
  app.register(oauth2, options as OAuth2ServerOptions)
  try {
    await app.ready()
  } catch (err) {
    return err
  }
  return undefined
}

/** A store with one method missing. */
function without (method: string): OAuth2Store {
  const store = new MemoryStore()
  return new Proxy(store, { get: (target, key) => key === method ? undefined : Reflect.get(target, key) })
}

type Bad = [option: string, options: Record<string, unknown>]

/** One bad case per value of a top-level option. */
function each (option: string, values: unknown[]): Bad[] {
  return values.map((value) => [option, { [option]: value }])
}

/** The smallest valid `users` option (the app's own users), and the same without one of its functions. */
const USERS = { findByUsername: async () => null, findById: async () => null, verifyPassword: async () => false }
function usersWith (changes: Record<string, unknown>): Bad[1] {
  return { users: { ...USERS, ...changes } }
}

/** [option, options]: a bad value of that option, with everything else valid. */
const BAD: Bad[] = [
  ['store', {}],
  ['store', { store: undefined }],
  ['store', { store: null }],
  ['store', { store: 'memory' }],
  ['store', { store: 42 }],
  ['store', { store: {} }],
  ...['createUser', 'findByAccessTokenHash', 'rotateRefreshToken', 'revokeFamily', 'deleteExpiredTokens']
    .map((method): Bad => ['store', { store: without(method) }]),
  ...each('accessTokenTtl', [0, -1, 1.5, '10', Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, null]),
  ...each('refreshTokenTtl', [0, -1, 1.5, '10', null]),
  ...each('refreshTokenReuseInterval', [-1, 0.5, '1']),
  ...each('scopes', [[], ['a b'], 'read', [''], ['a"b'], ['a\\b'], ['é'], [1], null]),
  ['defaultScopes', { defaultScopes: ['admin'] }],
  ['defaultScopes', { scopes: ['write'], defaultScopes: ['read'] }],
  ['defaultScopes', { defaultScopes: 'read' }],
  ['defaultScopes', { defaultScopes: ['re ad'] }],
  ...each('decorator', ['oauth', '1abc', '', 'a-b', 'a b', 5, null]),
  ...each('realm', ['my "app"', '', 'a\\b', 'a\nb', 5]),
  ['routes', { routes: '/o/token/' }],
  ['routes', { routes: ['/o/token/'] }],
  ...['o/token', '/o/token?x=1', '/o/token#x', '/o token/', '', false, 5].map((v): Bad => ['routes.token', { routes: { token: v } }]),
  ...['sign_up', '/sign_up?', true, 0].map((v): Bad => ['routes.signUp', { routes: { signUp: v } }]),
  ['routes.signUp', { routes: { signUp: '/o/token/' } }],
  ['routes.signUp', { routes: { token: '/auth', signUp: '/auth/' } }],
  ...['o/revoke', '/revoke?x', true, 0, null].map((v): Bad => ['routes.revoke', { routes: { revoke: v } }]),
  ...['o/introspect', '/introspect#x', true, 0].map((v): Bad => ['routes.introspect', { routes: { introspect: v } }]),
  ...['.well-known/x', '/a b', true, ''].map((v): Bad => ['routes.metadata', { routes: { metadata: v } }]),
  ['routes.revoke', { routes: { revoke: '/o/token' } }],
  ['routes.revoke', { routes: { revoke: '/sign_up/' } }],
  ['routes.introspect', { routes: { introspect: '/o/revoke_token' } }],
  ['routes.introspect', { routes: { token: '/check/', introspect: '/check' } }],
  ...each('issuer', [
    'http://auth.example.com', 'auth.example.com', 'https://auth.example.com/?x=1', 'https://auth.example.com?',
    'https://auth.example.com/#top', 'https://user:pass@auth.example.com', 'https://user@auth.example.com', 'https:// x.com',
    'https://', 'ftp://auth.example.com', '', 5, null
  ]),
  ['passwordPolicy', { passwordPolicy: 8 }],
  ['passwordPolicy.minLength', { passwordPolicy: { minLength: 0 } }],
  ['passwordPolicy.minLength', { passwordPolicy: { minLength: 1.5 } }],
  ['passwordPolicy.minLength', { passwordPolicy: { minLength: '8' } }],
  ['passwordPolicy.maxLength', { passwordPolicy: { minLength: 10, maxLength: 9 } }],
  ['passwordPolicy.maxLength', { passwordPolicy: { maxLength: 7 } }],
  ['passwordPolicy.maxLength', { passwordPolicy: { maxLength: 0 } }],
  ['passwordPolicy.maxLength', { passwordPolicy: { maxLength: 4097 } }],
  ['passwordPolicy.minLength', { passwordPolicy: { minLength: 4097, maxLength: 4097 } }],
  ['passwordPolicy.validate', { passwordPolicy: { validate: 'strong' } }],
  ['passwordPolicy.validate', { passwordPolicy: { validate: null } }],
  ...each('usernameMaxLength', [0, -1, 1.5, '150', 1025]),
  ['hashing', { hashing: 2 }],
  ['hashing.concurrency', { hashing: { concurrency: 0 } }],
  ['hashing.concurrency', { hashing: { concurrency: 1.5 } }],
  ['hashing.maxQueue', { hashing: { maxQueue: -1 } }],
  ['hashing.retryAfter', { hashing: { retryAfter: -1 } }],
  ...each('tokenCache', [5, 'on', null, []]),
  ...[0, -1, 1.5, '100'].map((v): Bad => ['tokenCache.max', { tokenCache: { max: v } }]),
  ...[0, 301, 0.5, '5'].map((v): Bad => ['tokenCache.ttl', { tokenCache: { ttl: v } }]),
  ...each('bodyLimit', [10, 255, '16384', 0]),
  ...each('now', ['now', 5, Date.now()]),
  ...each('users', [null, 5, 'users', [USERS], () => USERS]),
  ...['findByUsername', 'findById', 'verifyPassword'].flatMap((method): Bad[] => [
    [`users.${method}`, usersWith({ [method]: undefined })],
    [`users.${method}`, usersWith({ [method]: 'yes' })]
  ]),
  ['users.create', usersWith({ create: true })],
  ['users.create', usersWith({ create: null })],
  ['users.updatePasswordHash', usersWith({ updatePasswordHash: {} })],
  // Without users.create nobody can sign up: asking for the route is a mistake.
  ['routes.signUp', { users: USERS, routes: { signUp: '/sign_up/' } }],
  ['routes.signUp', { users: USERS, routes: { signUp: true } }]
]

t.test('every bad option fails registration with FST_OAUTH2_INVALID_OPTION, naming the option', async (t) => {
  for (const [option, bad] of BAD) {
    const options = option === 'store' ? bad : { store: new MemoryStore(), ...bad }
    const label = `${option}: ${JSON.stringify(Object.values(bad)[0]) ?? 'undefined'}`
    const err = await registrationError(t, options)
    t.type(err, OAuth2ConfigError, label)
    t.match(err, { code: 'FST_OAUTH2_INVALID_OPTION', message: `option "${option}"` }, label)
  }
  // A store missing a method is named with the method.
  t.match(await registrationError(t, { store: without('rotateRefreshToken') }), { message: /rotateRefreshToken\(\)/ })
  // Registering with no options at all names the store.
  t.match(await registrationError(t, undefined), { code: 'FST_OAUTH2_INVALID_OPTION', message: /option "store"/ })
})

t.test('resolveOptions: options that are not an object, the defaults, and a frozen copy', async (t) => {
  for (const options of [null, 'store', 5, []]) {
    t.throws(() => resolveOptions(options as unknown as OAuth2ServerOptions), { code: 'FST_OAUTH2_INVALID_OPTION', message: /option "options"/ })
  }
  const store = new MemoryStore()
  const scopes = ['read', 'write', 'read']
  const resolved = resolveOptions({ store, scopes })
  t.match(resolved, {
    store,
    accessTokenTtl: 3600,
    refreshTokenTtl: 30 * 86_400,
    refreshTokenReuseInterval: 5,
    scopes: ['read', 'write'],
    defaultScopes: ['read', 'write'],
    decorator: 'user',
    realm: 'api',
    routes: {
      token: '/o/token/',
      signUp: '/sign_up/',
      revoke: '/o/revoke_token/',
      introspect: '/o/introspect/',
      metadata: '/.well-known/oauth-authorization-server'
    },
    issuer: null,
    passwordPolicy: { minLength: 8, maxLength: 1024, validate: undefined },
    usernameMaxLength: 150,
    hashing: { maxQueue: 256, retryAfter: 1 },
    bodyLimit: 16_384,
    now: Date.now
  })
  // On Linux the hashes run on every core at the lowest priority; elsewhere a core is left to the event loop.
  t.equal(resolved.hashing.lowPriority, process.platform === 'linux')
  t.equal(resolved.hashing.concurrency, process.platform === 'linux' ? availableParallelism() : defaultHashingConcurrency())
  t.match(resolveOptions({ store, hashing: { lowPriority: false } }).hashing, { lowPriority: false, concurrency: defaultHashingConcurrency() })
  t.match(resolveOptions({ store, hashing: { lowPriority: true } }).hashing, { lowPriority: true, concurrency: availableParallelism() })
  t.throws(() => resolveOptions({ store, hashing: { lowPriority: 'yes' as unknown as boolean } }), { message: /hashing.lowPriority/ })
  // A core left to the event loop, a thread of libuv's pool left to file and DNS work, never below 1.
  t.equal(defaultHashingConcurrency(1, 4), 1)
  t.equal(defaultHashingConcurrency(2, 4), 1)
  t.equal(defaultHashingConcurrency(8, 4), 3)
  t.equal(defaultHashingConcurrency(8, 16), 7)
  t.equal(defaultHashingConcurrency(16, 1), 1)
  t.ok(defaultHashingConcurrency() >= 1)
  for (const part of [resolved, resolved.scopes, resolved.defaultScopes, resolved.routes, resolved.passwordPolicy, resolved.hashing]) {
    t.ok(Object.isFrozen(part), 'frozen')
  }
  scopes.push('admin')
  t.same(resolved.scopes, ['read', 'write'], 'a copy: changing the input later changes nothing')
  t.equal(resolveOptions({ store, routes: { signUp: false } }).routes.signUp, false)
  t.match(resolveOptions({ store, routes: { signUp: false, revoke: false, introspect: false, metadata: false } }).routes,
    { signUp: false, revoke: false, introspect: false, metadata: false })
  // A route turned off frees its path; the GET metadata route may share a path with a POST route.
  t.match(resolveOptions({ store, routes: { signUp: false, revoke: '/sign_up/', introspect: '/o/introspect', metadata: '/o/token/' } }).routes,
    { revoke: '/sign_up/', metadata: '/o/token/' })
  for (const issuer of ['https://auth.example.com', 'https://auth.example.com/', 'https://example.com:8443/tenant', 'https://[::1]']) {
    t.equal(resolveOptions({ store, issuer }).issuer, issuer, `issuer ${issuer} kept as given`)
  }
  // The token cache: off by default on a store that cannot report other processes' revocations, on with
  // one that can; `true` or `{}` for the defaults.
  t.equal(resolved.tokenCache, false)
  const watching = Object.assign(new MemoryStore(), { watchRevocations: async () => async () => {} })
  t.same(resolveOptions({ store: watching }).tokenCache, { max: 10_000, ttl: 5 })
  t.equal(resolveOptions({ store: watching, tokenCache: false }).tokenCache, false)
  t.equal(resolveOptions({ store, tokenCache: false }).tokenCache, false)
  t.same(resolveOptions({ store, tokenCache: true }).tokenCache, { max: 10_000, ttl: 5 })
  t.same(resolveOptions({ store, tokenCache: {} }).tokenCache, { max: 10_000, ttl: 5 })
  const cache = resolveOptions({ store, tokenCache: { max: 1, ttl: 300 } }).tokenCache
  t.same(cache, { max: 1, ttl: 300 })
  t.ok(Object.isFrozen(cache), 'frozen')
})

t.test('options are checked before the decorators are claimed', async (t) => {
  const err = await registrationError(t, { store: new MemoryStore(), accessTokenTtl: 0 }, (app) => app.decorateRequest('user', null))
  t.match(err, { code: 'FST_OAUTH2_INVALID_OPTION', message: /"accessTokenTtl"/ })
})

t.test('request.user taken by another plugin: FST_OAUTH2_DECORATOR_TAKEN naming "decorator"', async (t) => {
  for (const [taken, remedy] of [['user', /"decorator" option/], ['oauth', /rename the other decorator/]] as const) {
    const err = await registrationError(t, { store: new MemoryStore() }, (app) => app.decorateRequest(taken, null))
    t.type(err, OAuth2ConfigError, taken)
    t.match(err, { code: 'FST_OAUTH2_DECORATOR_TAKEN', message: new RegExp(`"${taken}" is already taken.*${remedy.source}`) }, taken)
  }
  const custom = await registrationError(t, { store: new MemoryStore(), decorator: 'account' }, (app) => app.decorateRequest('account', null))
  t.match(custom, { code: 'FST_OAUTH2_DECORATOR_TAKEN', message: /"account"/ })
})

t.test("decorator: 'account' works beside another plugin's request.user", async (t) => {
  const store = new MemoryStore()
  const app = Fastify()
  t.teardown(() => app.close())
  app.decorateRequest('user', null)
  app.addHook('onRequest', async (request) => {
    (request as unknown as { user: unknown }).user = { jwt: 'someone else' }
  })
  await app.register(oauth2, { store, decorator: 'account' })
  app.get('/account', { onRequest: app.oauth2.authenticate() }, async (request) => ({
    account: (request as unknown as { account: unknown }).account,
    user: request.user,
    oauthUser: request.oauth?.user
  }))
  await app.ready()
  const { client } = await createClient(store, { name: 'spa', type: 'public' })
  t.equal((await app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'pony', password: 'djangsta-secret' } })).statusCode, 201)
  const login = await app.inject({
    method: 'POST',
    url: '/o/token/',
    headers: { 'content-type': FORM },
    payload: `grant_type=password&username=pony&password=djangsta-secret&client_id=${client.id}`
  })
  t.equal(login.statusCode, 200)
  const res = await app.inject({ url: '/account', headers: { authorization: `Bearer ${login.json().access_token as string}` } })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.match(body.account, { username: 'pony' })
  t.same(body.oauthUser, body.account)
  t.same(body.user, { jwt: 'someone else' }, "the other plugin's request.user is left alone")
  const anonymous = await app.inject({ url: '/account' })
  t.equal(anonymous.statusCode, 401)
})

/** The app's own routes: a form echo and a text echo, each with the app's (1 MiB) body limit. */
function appRoutes (app: FastifyInstance): void {
  app.post('/app/form', async (request) => ({ got: request.body }))
  app.post('/app/text', async (request) => ({ got: request.body }))
}

async function appRoutesStillWork (t: Test, app: FastifyInstance): Promise<void> {
  const form = await app.inject({ method: 'POST', url: '/app/form', headers: { 'content-type': FORM }, payload: 'a=1&b=two' })
  t.equal(form.statusCode, 200, "the app's form route parses")
  t.same(form.json(), { got: { a: '1', b: 'two' } })
  const big = await app.inject({ method: 'POST', url: '/app/form', headers: { 'content-type': FORM }, payload: `a=${'x'.repeat(50_000)}` })
  t.equal(big.statusCode, 200, "the plugin's body limit is not the app's")
  const text = await app.inject({ method: 'POST', url: '/app/text', headers: { 'content-type': 'text/plain' }, payload: 'hello' })
  t.equal(text.statusCode, 200, "text/plain still parses in the app's own routes")
  t.same(text.json(), { got: 'hello' })
  const refused = await app.inject({ method: 'POST', url: '/o/token/', headers: { 'content-type': 'text/plain' }, payload: 'hello' })
  t.equal(refused.statusCode, 415, 'but not on the token route')
  const tooBig = await app.inject({ method: 'POST', url: '/o/token/', headers: { 'content-type': FORM }, payload: `a=${'x'.repeat(50_000)}` })
  t.equal(tooBig.statusCode, 413, "the plugin's body limit holds on its routes")
  t.equal(tooBig.json().error, 'invalid_request')
}

t.test('an app that registered @fastify/formbody itself before the plugin', async (t) => {
  const ctx = await buildApp(t, {}, async (app) => {
    await app.register(formbody)
    appRoutes(app)
  })
  const tokens = await loggedIn(ctx)
  t.equal(tokens.token_type, 'Bearer', 'form login works')
  await appRoutesStillWork(t, ctx.app)
})

t.test('an app that registers @fastify/formbody after the plugin', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(oauth2, { store: new MemoryStore() })
  await app.register(formbody)
  appRoutes(app)
  await app.ready()
  await appRoutesStillWork(t, app)
  const res = await answers(app, '/o/token')
  t.equal(res.statusCode, 401, 'the token route still parses forms')
  t.equal(res.json().error, 'invalid_client')
})

t.test('an app without formbody gets none from the plugin', async (t) => {
  const ctx = await buildApp(t, {}, appRoutes)
  const form = await ctx.app.inject({ method: 'POST', url: '/app/form', headers: { 'content-type': FORM }, payload: 'a=1' })
  t.equal(form.statusCode, 415, "the plugin's form parser stays in its own context")
  const text = await ctx.app.inject({ method: 'POST', url: '/app/text', headers: { 'content-type': 'text/plain' }, payload: 'hello' })
  t.equal(text.statusCode, 200)
})

/** Whether a route answers at `url` (any answer but 404). */
async function answers (app: FastifyInstance, url: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url, headers: { 'content-type': FORM }, payload: 'grant_type=password&client_id=nobody' })
}

async function bothForms (t: Test, app: FastifyInstance, paths: string[]): Promise<void> {
  for (const path of paths) {
    const other = path.endsWith('/') ? path.slice(0, -1) : `${path}/`
    for (const url of [path, other]) {
      const res = await answers(app, url)
      t.not(res.statusCode, 404, `${url} answers`)
      t.equal(res.headers['cache-control'], 'no-store', `${url} is the plugin's`)
    }
  }
}

t.test('every route answers with and without its trailing slash, for default and custom paths', async (t) => {
  const defaults = await buildApp(t)
  await bothForms(t, defaults.app, ['/o/token/', '/sign_up/'])
  const custom = await buildApp(t, { routes: { token: '/auth/token', signUp: '/auth/register/' } })
  await bothForms(t, custom.app, ['/auth/token', '/auth/register/'])
  for (const url of ['/o/token/', '/o/token', '/sign_up/', '/sign_up']) {
    t.equal((await answers(custom.app, url)).statusCode, 404, `${url} is gone`)
  }
  const root = await buildApp(t, { routes: { token: '/', signUp: '/sign_up' } })
  t.equal((await answers(root.app, '/')).statusCode, 401, 'a root token route works')
})

for (const [label, fastifyOptions] of [
  ['ignoreTrailingSlash: true', { ignoreTrailingSlash: true }],
  ['routerOptions.ignoreTrailingSlash: true', { routerOptions: { ignoreTrailingSlash: true } }]
] as Array<[string, FastifyServerOptions]>) {
  t.test(`Fastify({ ${label} }): registration works and both forms answer`, async (t) => {
    const app = Fastify(fastifyOptions)
    t.teardown(() => app.close())
    app.register(oauth2, { store: new MemoryStore() })
    await t.resolves(async () => { await app.ready() })
    await bothForms(t, app, ['/o/token/', '/sign_up/'])
  })
}

t.test('routes.signUp false: sign-up is gone; a custom path works', async (t) => {
  const off = await buildApp(t, { routes: { signUp: false } })
  for (const url of ['/sign_up/', '/sign_up']) {
    const res = await off.app.inject({ method: 'POST', url, payload: { username: 'pony', password: 'djangsta-secret' } })
    t.equal(res.statusCode, 404, url)
  }
  t.not((await answers(off.app, '/o/token/')).statusCode, 404, 'the token route is still there')

  const custom = await buildApp(t, { routes: { signUp: '/register' } })
  const res = await custom.app.inject({ method: 'POST', url: '/register/', payload: { username: 'pony', password: 'djangsta-secret' } })
  t.equal(res.statusCode, 201)
  t.equal((await custom.app.inject({ method: 'POST', url: '/sign_up/', payload: {} })).statusCode, 404)
  t.equal((await custom.login('pony', 'djangsta-secret')).statusCode, 200, 'the user signed up on the custom path logs in')
})

t.test('accessTokenTtl shows in expires_in; refreshTokenTtl in the stored record', async (t) => {
  const ctx = await buildApp(t, { accessTokenTtl: 36_000, refreshTokenTtl: 7 * 86_400 })
  const tokens = await loggedIn(ctx)
  t.equal(tokens.expires_in, 36_000)
  const record = await ctx.store.findByRefreshTokenHash(hashToken(tokens.refresh_token))
  t.equal(record?.accessExpiresAt, T0 + 36_000_000)
  t.equal(record?.refreshExpiresAt, T0 + 7 * 86_400_000)
  ctx.advance(35_999)
  t.equal((await ctx.me(tokens.access_token)).statusCode, 200)
  ctx.advance(1)
  t.equal((await ctx.me(tokens.access_token)).statusCode, 401, 'expired at exactly accessTokenTtl')
})

t.test('custom scopes and defaultScopes show in the token response', async (t) => {
  const ctx = await buildApp(t, { scopes: ['profile', 'email', 'admin'], defaultScopes: ['profile', 'email'] })
  const tokens = await loggedIn(ctx)
  t.equal(tokens.scope, 'profile email', 'the default scopes when none are asked')
  const admin = await ctx.login('pony', 'djangsta-secret', { scope: 'admin' })
  t.equal(admin.statusCode, 200)
  t.equal(admin.json().scope, 'admin')
  const unknown = await ctx.login('pony', 'djangsta-secret', { scope: 'read' })
  t.equal(unknown.statusCode, 400)
  t.equal(unknown.json().error, 'invalid_scope', 'the built-in defaults are gone')
})

t.test('realm, bodyLimit, passwordPolicy and usernameMaxLength change what clients see', async (t) => {
  const ctx = await buildApp(t, {
    realm: 'my app',
    bodyLimit: 512,
    usernameMaxLength: 5,
    passwordPolicy: {
      minLength: 12,
      maxLength: 20,
      validate: (password, { username }) => password.includes(username) ? 'The password may not contain the username.' : undefined
    }
  })
  const me = await ctx.app.inject({ url: '/me' })
  t.equal(me.headers['www-authenticate'], 'Bearer realm="my app"')
  const basic = await ctx.app.inject({ method: 'POST', url: '/o/token/', headers: { authorization: 'Basic !' }, payload: { grant_type: 'password' } })
  t.equal(basic.headers['www-authenticate'], 'Basic realm="my app"')

  const big = await ctx.app.inject({ method: 'POST', url: '/o/token/', payload: { grant_type: 'password', username: 'x'.repeat(600) } })
  t.equal(big.statusCode, 413)

  const refusals: Array<[string, string, string]> = [
    ['abcdef', 'long-enough-pw', 'The username may have at most 5 characters.'],
    ['pony', 'short-pw-11', 'The password must have at least 12 characters.'],
    ['pony', 'x'.repeat(21), 'The password may have at most 20 characters.'],
    ['pony', 'my-pony-password', 'The password may not contain the username.']
  ]
  for (const [username, password, description] of refusals) {
    const res = await ctx.signUp(username, password)
    t.equal(res.statusCode, 400, description)
    t.same(res.json(), { error: 'invalid_request', error_description: description })
  }
  t.equal((await ctx.signUp('pony', 'a-good-password')).statusCode, 201)
})

t.test('the largest passwordPolicy.maxLength and usernameMaxLength accepted are the ones the routes take', async (t) => {
  t.match(await registrationError(t, { store: new MemoryStore(), passwordPolicy: { maxLength: 5000 } }),
    { message: 'option "passwordPolicy.maxLength" must be an integer from 8 to 4096' })
  const ctx = await buildApp(t, { passwordPolicy: { maxLength: 4096 }, usernameMaxLength: 1024 })
  const username = 'u'.repeat(1024)
  const password = 'p'.repeat(4096)
  t.equal((await ctx.signUp(username, password)).statusCode, 201)
  t.equal((await ctx.login(username, password)).statusCode, 200)
  t.equal((await ctx.signUp('v'.repeat(1025), password)).statusCode, 400)
  t.equal((await ctx.signUp('pony', `${password}p`)).statusCode, 400)
})

t.test('users: absent by default; without users.create sign-up is off', async (t) => {
  const store = new MemoryStore()
  t.equal(resolveOptions({ store }).users, null)
  const resolved = resolveOptions({ store, users: USERS })
  t.equal(resolved.users, USERS, 'the app\'s object itself, so its methods keep their this')
  t.equal(resolved.routes.signUp, false)
  t.equal(resolveOptions({ store, users: USERS, routes: { signUp: false } }).routes.signUp, false)
  const create = async (): Promise<null> => null
  const updatePasswordHash = async (): Promise<void> => {}
  t.equal(resolveOptions({ store, users: { ...USERS, create, updatePasswordHash } }).routes.signUp, '/sign_up/')
  t.equal(resolveOptions({ store, users: { ...USERS, create }, routes: { signUp: '/join' } }).routes.signUp, '/join')
})
