/**
 * Beside @fastify/jwt, which decorates `request.user` too: with `decorator: 'account'` both work in one
 * app (even on one request); when both claim `user`, registration fails with a message naming the option.
 * Under a prefix, every route of the plugin is served under it and nowhere else.
 */
import Fastify, { type FastifyInstance, type FastifyPluginCallback, type FastifyRequest, type LightMyRequestResponse } from 'fastify'
import { createRequire } from 'node:module'
import t, { type Test } from 'tap'
import { hashToken } from '../lib/crypto/tokens.js'
import oauth2, { createClient, MemoryStore, OAuth2ConfigError } from '../lib/index.js'

// @fastify/jwt is loaded without its types: its `request.user` augmentation would retype request.user for
// every file of this project. How the two type together is proven in test/types/with-jwt.
const jwt = createRequire(import.meta.url)('@fastify/jwt') as FastifyPluginCallback<Record<string, unknown>>
interface JwtApp { jwt: { sign: (payload: object) => string } }
interface JwtRequest { jwtVerify: () => Promise<unknown> }

const SECRET = 'a long enough secret for HS256 signatures'
const FORM = 'application/x-www-form-urlencoded'

function signJwt (app: FastifyInstance, payload: object): string {
  return (app as unknown as JwtApp).jwt.sign(payload)
}

async function verifyJwt (request: FastifyRequest): Promise<void> {
  await (request as unknown as JwtRequest).jwtVerify()
}

/** Signs `pony` up and logs in through the plugin's routes under `prefix`. */
async function login (app: FastifyInstance, clientId: string, prefix = ''): Promise<{ access_token: string, refresh_token: string }> {
  const signUp = await app.inject({ method: 'POST', url: `${prefix}/sign_up/`, payload: { username: 'pony', password: 'djangsta-secret' } })
  if (signUp.statusCode !== 201) throw new Error(`sign-up: ${signUp.body}`)
  const res = await app.inject({
    method: 'POST',
    url: `${prefix}/o/token/`,
    headers: { 'content-type': FORM },
    payload: `grant_type=password&username=pony&password=djangsta-secret&client_id=${clientId}`
  })
  if (res.statusCode !== 200) throw new Error(`login: ${res.body}`)
  return res.json()
}

function get (app: FastifyInstance, url: string, headers: Record<string, string>): Promise<LightMyRequestResponse> {
  return app.inject({ url, headers })
}

t.test("decorator: 'account' beside @fastify/jwt: request.user is the JWT's, request.account ours, on one request too", async (t) => {
  const store = new MemoryStore()
  const app = Fastify()
  t.teardown(() => app.close())
  // The JWT travels in its own header so that one request can carry both credentials.
  await app.register(jwt, { secret: SECRET, verify: { extractToken: (request: FastifyRequest) => request.headers['x-jwt'] } })
  await app.register(oauth2, { store, decorator: 'account', throttle: false })
  const both = (request: FastifyRequest): unknown => ({ user: request.user, account: (request as unknown as { account: unknown }).account })
  app.get('/jwt', { onRequest: verifyJwt }, async (request) => both(request))
  app.get('/oauth', { onRequest: app.oauth2.authenticate() }, async (request) => both(request))
  app.get('/both', { onRequest: [verifyJwt, app.oauth2.authenticate()] }, async (request) => both(request))
  await app.ready()

  const { client } = await createClient(store, { name: 'spa', type: 'public' })
  const tokens = await login(app, client.id)
  const claims = { sub: 'batch-job', admin: true }
  const signed = signJwt(app, claims)
  const bearer = `Bearer ${tokens.access_token}`

  const viaBoth = await get(app, '/both', { authorization: bearer, 'x-jwt': signed })
  t.equal(viaBoth.statusCode, 200)
  t.match(viaBoth.json(), { user: claims, account: { username: 'pony' } })
  const stored = await store.findUserByUsernameKey('pony')
  t.equal(viaBoth.json().account.id, stored?.id, 'request.account is the stored user')

  const ours = await get(app, '/oauth', { authorization: bearer })
  t.equal(ours.statusCode, 200)
  t.same(ours.json(), { user: null, account: { id: stored?.id, username: 'pony' } }, "request.user untouched by our guard")

  const theirs = await get(app, '/jwt', { 'x-jwt': signed })
  t.equal(theirs.statusCode, 200)
  t.match(theirs.json(), { user: claims, account: null }, 'request.account untouched by @fastify/jwt')

  const jwtAsBearer = await get(app, '/oauth', { authorization: `Bearer ${signed}` })
  t.equal(jwtAsBearer.statusCode, 401, 'a JWT is no token of ours')
  t.match(jwtAsBearer.headers['www-authenticate'], /error="invalid_token"/)
  const oursAsJwt = await get(app, '/jwt', { 'x-jwt': tokens.access_token })
  t.equal(oursAsJwt.statusCode, 401, 'nor is our token a JWT')

  const record = await store.findByAccessTokenHash(hashToken(tokens.access_token))
  t.equal(record?.token.revokedAt, null, 'the token is still live after all that')
})

t.test('@fastify/jwt and the plugin both claiming request.user: registration fails naming the option', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(jwt, { secret: SECRET })
  app.register(oauth2, { store: new MemoryStore() })
  const err = await app.ready().then(() => null, (e: unknown) => e)
  t.type(err, OAuth2ConfigError)
  t.match(err, {
    code: 'FST_OAUTH2_DECORATOR_TAKEN',
    message: /request decorator "user" is already taken .*choose another name with the "decorator" option/
  })
})

t.test('the other way round: @fastify/jwt under another decoratorName, the plugin keeps request.user', async (t) => {
  const store = new MemoryStore()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(jwt, { secret: SECRET, decoratorName: 'claims' })
  await app.register(oauth2, { store, throttle: false })
  app.get('/me', { onRequest: [app.oauth2.authenticate()] }, async (request) => ({ user: request.user }))
  app.get('/claims', { onRequest: verifyJwt }, async (request) => ({ claims: (request as unknown as { claims: unknown }).claims }))
  await app.ready()
  const { client } = await createClient(store, { name: 'spa', type: 'public' })
  const tokens = await login(app, client.id)
  t.match((await get(app, '/me', { authorization: `Bearer ${tokens.access_token}` })).json(), { user: { username: 'pony' } })
  t.match((await get(app, '/claims', { authorization: `Bearer ${signJwt(app, { sub: 'x' })}` })).json(), { claims: { sub: 'x' } })
})

/** The plugin's routes as [method, path] (without the prefix), each POST also without its trailing slash. */
const ROUTES: Array<[string, string]> = [
  ...['/o/token/', '/sign_up/', '/o/revoke_token/', '/o/introspect/'].flatMap((path): Array<[string, string]> =>
    [['POST', path], ['POST', path.slice(0, -1)]]),
  ['GET', '/.well-known/oauth-authorization-server']
]

async function underPrefix (t: Test, prefix: string, routes: string): Promise<void> {
  const store = new MemoryStore()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(jwt, { secret: SECRET })
  await app.register(oauth2, { store, prefix, decorator: 'account', throttle: false })
  app.get('/me', { onRequest: app.oauth2.authenticate() }, async (request) => (request as unknown as { account: unknown }).account)
  await app.ready()

  for (const [method, path] of ROUTES) {
    t.ok(app.hasRoute({ method, url: `${routes}${path}` }), `${method} ${routes}${path}`)
    t.notOk(app.hasRoute({ method, url: path }), `not ${method} ${path}`)
  }

  const { client } = await createClient(store, { name: 'spa', type: 'public' })
  const tokens = await login(app, client.id, routes)
  t.equal((await get(app, '/me', { authorization: `Bearer ${tokens.access_token}` })).json().username, 'pony',
    "the app's own routes and decorators stay where they were")
  const refreshed = await app.inject({
    method: 'POST',
    url: `${routes}/o/token`,
    payload: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: client.id }
  })
  t.equal(refreshed.statusCode, 200)
  t.not((await store.findByRefreshTokenHash(hashToken(tokens.refresh_token)))?.rotatedAt, null, 'the refresh rotated')
  const metadata = await app.inject({ url: `${routes}/.well-known/oauth-authorization-server` })
  t.equal(metadata.json().token_endpoint, `http://localhost:80${routes}/o/token/`)
  t.equal((await app.inject({ method: 'POST', url: '/o/token/', payload: {} })).statusCode, 404)
}

t.test("registered with a prefix, beside @fastify/jwt: every route under it, none outside", async (t) => {
  await underPrefix(t, '/auth', '/auth')
})

t.test('a prefix ending in a slash gives the same paths', async (t) => {
  await underPrefix(t, '/auth/', '/auth')
})
