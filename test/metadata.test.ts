/** RFC 8414 authorization server metadata: `GET /.well-known/oauth-authorization-server`, on every store. */
import { connect, type AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import oauth2, { createClient, type OAuth2ServerOptions, type OAuth2Store } from '../lib/index.js'
import { basic, buildApp, type TestApp } from './fixtures/app.js'
import { forEachStore } from './fixtures/stores.js'

const WELL_KNOWN = '/.well-known/oauth-authorization-server'
const FORM = 'application/x-www-form-urlencoded'

function metadata (app: FastifyInstance, url = WELL_KNOWN, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url, headers })
}

/** The document for the default options under `base` (the issuer, its endpoints below it). */
function expected (issuer: string, base = issuer): Record<string, unknown> {
  return {
    issuer,
    token_endpoint: `${base}/o/token/`,
    authorization_endpoint: `${base}/o/authorize/`,
    grant_types_supported: ['password', 'refresh_token', 'client_credentials', 'authorization_code'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    scopes_supported: ['read', 'write'],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    revocation_endpoint: `${base}/o/revoke_token/`,
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    introspection_endpoint: `${base}/o/introspect/`,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post']
  }
}

/** Signs up, logs in, calls /me, introspects and revokes through the plugin's routes under `prefix`. */
async function fullFlow (t: Test, app: FastifyInstance, store: OAuth2Store, prefix: string, me = '/me'): Promise<void> {
  const pub = await createClient(store, { name: 'spa', type: 'public' })
  const conf = await createClient(store, { name: 'api', type: 'confidential' })
  const signUp = await app.inject({ method: 'POST', url: `${prefix}/sign_up/`, payload: { username: 'pony', password: 'djangsta-secret' } })
  t.equal(signUp.statusCode, 201, 'sign-up under the prefix')
  const login = await app.inject({
    method: 'POST',
    url: `${prefix}/o/token`,
    headers: { 'content-type': FORM },
    payload: `grant_type=password&username=pony&password=djangsta-secret&client_id=${pub.client.id}`
  })
  t.equal(login.statusCode, 200, 'token endpoint under the prefix')
  const { access_token: accessToken } = login.json()
  t.equal((await app.inject({ url: me, headers: { authorization: `Bearer ${accessToken as string}` } })).statusCode, 200, 'the guard works')
  const introspected = await app.inject({
    method: 'POST',
    url: `${prefix}/o/introspect/`,
    headers: { authorization: basic(conf.client.id, conf.clientSecret as string) },
    payload: { token: accessToken }
  })
  t.equal(introspected.json().active, true, 'introspection under the prefix')
  const revoked = await app.inject({ method: 'POST', url: `${prefix}/o/revoke_token`, payload: { token: accessToken, client_id: pub.client.id } })
  t.equal(revoked.statusCode, 200, 'revocation under the prefix')
  t.equal((await app.inject({ url: me, headers: { authorization: `Bearer ${accessToken as string}` } })).statusCode, 401, 'revoked')
  for (const url of ['/o/token/', '/sign_up/', '/o/revoke_token/', '/o/introspect/']) {
    t.equal((await app.inject({ method: 'POST', url, payload: {} })).statusCode, 404, `${url} is not served outside the prefix`)
  }
}

forEachStore(t, async (t, open) => {
  const build = async (t: Test, options: Partial<OAuth2ServerOptions> = {}): Promise<TestApp> => buildApp(t, { store: await open(t), ...options })

  t.test('RFC 8414 §3.2: the default document, its issuer taken from the request (uncached)', async (t) => {
    const ctx = await build(t)
    const res = await metadata(ctx.app, WELL_KNOWN, { host: 'auth.example.com' })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^application\/json/)
    t.equal(res.headers['cache-control'], 'no-store', 'derived from the Host header: no cache may keep it for others')
    t.same(res.json(), expected('http://auth.example.com'))
    t.same(Object.keys(res.json()).slice(0, 2), ['issuer', 'token_endpoint'])
    t.same((await metadata(ctx.app)).json().issuer, 'http://localhost:80', "inject's default Host")
    t.same((await metadata(ctx.app, WELL_KNOWN, { host: '[::1]:8443' })).json().issuer, 'http://[::1]:8443')
    t.notMatch(res.body, /sign_up/, 'sign-up is not an OAuth2 endpoint and is not listed')
    t.equal((await metadata(ctx.app, `${WELL_KNOWN}/`)).statusCode, 404, 'the exact path only')
    t.equal((await ctx.app.inject({ method: 'HEAD', url: WELL_KNOWN })).statusCode, 200, 'HEAD works')
  })

  t.test('RFC 8414 §3.2: a malformed Host header is refused with an OAuth2 error, never echoed', async (t) => {
    const ctx = await build(t)
    for (const host of ['evil.example/path?x=1', 'a b', '"><script>', 'x@y', '-bad', 'host:port', 'a:123456']) {
      const res = await metadata(ctx.app, WELL_KNOWN, { host })
      t.equal(res.statusCode, 400, JSON.stringify(host))
      t.same(res.json(), { error: 'invalid_request', error_description: 'The Host header is missing or malformed.' })
      t.equal(res.headers['cache-control'], 'no-store')
    }
  })

  t.test('RFC 8414 §3.2: an HTTP/1.0 request without a Host header gets 400, not a made-up issuer', async (t) => {
    const ctx = await build(t)
    await ctx.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = ctx.app.server.address() as AddressInfo
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(`GET ${WELL_KNOWN} HTTP/1.0\r\n\r\n`))
      let answer = ''
      socket.on('data', (chunk) => { answer += String(chunk) })
      socket.on('end', () => resolve(answer))
      socket.on('error', reject)
    })
    t.match(raw, /^HTTP\/1\.1 400 /)
    t.match(raw, /"error":"invalid_request"/)
  })

  t.test('RFC 8414 §3.2: behind a trusted proxy the issuer follows X-Forwarded-Proto and -Host', async (t) => {
    const app = Fastify({ trustProxy: true })
    t.teardown(() => app.close())
    await app.register(oauth2, { store: await open(t) })
    const res = await metadata(app, WELL_KNOWN, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.com' })
    t.same(res.json(), expected('https://auth.example.com'))
  })

  t.test('RFC 8414 §2: the issuer option, as given, with the endpoints under it; cacheable', async (t) => {
    const ctx = await build(t, { issuer: 'https://auth.example.com' })
    const res = await metadata(ctx.app, WELL_KNOWN, { host: 'attacker.example' })
    t.equal(res.headers['cache-control'], 'public, max-age=3600')
    t.same(res.json(), expected('https://auth.example.com'), 'the Host header does not matter')

    const withPath = await build(t, { issuer: 'https://example.com/tenant/' })
    t.same((await metadata(withPath.app)).json(), expected('https://example.com/tenant/', 'https://example.com/tenant'),
      'an issuer with a path (and a trailing slash) is kept as given; the endpoints are below its path')
  })

  t.test('RFC 8414 §2: the document follows the options: custom paths, scopes, routes turned off', async (t) => {
    const custom = await build(t, {
      issuer: 'https://auth.example.com',
      scopes: ['profile', 'admin'],
      routes: { token: '/oauth/token', revoke: '/oauth/revoke/', introspect: '/oauth/introspect', metadata: '/meta', signUp: '/join' }
    })
    t.equal((await metadata(custom.app)).statusCode, 404, 'the default metadata path is gone')
    const res = await metadata(custom.app, '/meta')
    t.equal(res.statusCode, 200)
    t.same(res.json(), {
      ...expected('https://auth.example.com'),
      token_endpoint: 'https://auth.example.com/oauth/token',
      revocation_endpoint: 'https://auth.example.com/oauth/revoke/',
      introspection_endpoint: 'https://auth.example.com/oauth/introspect',
      scopes_supported: ['profile', 'admin']
    })
    t.notMatch(res.body, /join/)

    const off = await build(t, { issuer: 'https://auth.example.com', routes: { revoke: false, introspect: false, authorize: false } })
    const document = (await metadata(off.app)).json()
    t.same(document, {
      issuer: 'https://auth.example.com',
      token_endpoint: 'https://auth.example.com/o/token/',
      grant_types_supported: ['password', 'refresh_token', 'client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      scopes_supported: ['read', 'write'],
      response_types_supported: []
    }, 'no revocation_*, introspection_* or authorization members')

    const none = await build(t, { routes: { metadata: false } })
    t.equal((await metadata(none.app)).statusCode, 404, 'routes.metadata false turns it off')
    t.equal((await metadata(none.app, `${WELL_KNOWN}/`)).statusCode, 404)
  })

  t.test('a query string is refused, as on every route of the plugin', async (t) => {
    const ctx = await build(t)
    const res = await metadata(ctx.app, `${WELL_KNOWN}?x=1`)
    t.equal(res.statusCode, 400)
    t.equal(res.json().error, 'invalid_request')
  })

  t.test("app.register(oauth2, { prefix: '/auth' }) serves every route under the prefix, and the metadata says so", async (t) => {
    const store = await open(t)
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(oauth2, { prefix: '/auth', store })
    app.get('/me', { onRequest: app.oauth2.authenticate() }, async (request) => ({ user: request.user }))
    await app.ready()
    // RFC 8414 §3.1: the issuer has the prefix as its path, and its document is where §3.1 puts it.
    const res = await metadata(app, `${WELL_KNOWN}/auth`, { host: 'auth.example.com' })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['cache-control'], 'no-store')
    t.same(res.json(), expected('http://auth.example.com/auth'))
    const under = await metadata(app, `/auth${WELL_KNOWN}`, { host: 'auth.example.com' })
    t.equal(under.body, res.body, 'the same document under the prefix, as before')
    t.equal((await metadata(app)).statusCode, 404, "the origin's own document is not this issuer's")
    t.equal((await metadata(app, `${WELL_KNOWN}/auth?x=1`)).statusCode, 400, 'a query string is refused there too')
    const badHost = await metadata(app, `${WELL_KNOWN}/auth`, { host: 'a b' })
    t.same(badHost.json(), { error: 'invalid_request', error_description: 'The Host header is missing or malformed.' })
    await fullFlow(t, app, store, '/auth')
  })

  t.test('RFC 8414 §3.1 with the issuer option under a prefix: the document is where the issuer says', async (t) => {
    const store = await open(t)
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(oauth2, { prefix: '/auth', store, issuer: 'https://auth.example.com' })
    await app.ready()
    const res = await metadata(app, WELL_KNOWN, { host: 'attacker.example' })
    t.equal(res.statusCode, 200, 'an issuer without a path: at the origin')
    t.equal(res.headers['cache-control'], 'public, max-age=3600')
    t.same(res.json(), expected('https://auth.example.com', 'https://auth.example.com/auth'))
    t.equal((await metadata(app, `/auth${WELL_KNOWN}`)).body, res.body, 'and under the prefix, as before')
    t.equal((await metadata(app, `${WELL_KNOWN}/auth`)).statusCode, 404)

    const tenant = Fastify()
    t.teardown(() => tenant.close())
    await tenant.register(oauth2, { prefix: '/auth/', store, issuer: 'https://example.com/tenant/' })
    await tenant.ready()
    const inTenant = await metadata(tenant, `${WELL_KNOWN}/tenant`)
    t.equal(inTenant.statusCode, 200, "an issuer with a path: the well-known path, then the issuer's")
    t.same(inTenant.json(), expected('https://example.com/tenant/', 'https://example.com/tenant/auth'))
    t.equal((await metadata(tenant, `/auth${WELL_KNOWN}`)).body, inTenant.body)
  })

  t.test("RFC 8414 §3.1: a prefix '/' is no path; a custom metadata path takes the issuer's path after it", async (t) => {
    const store = await open(t)
    const root = Fastify()
    t.teardown(() => root.close())
    await root.register(oauth2, { prefix: '/', store })
    await root.ready()
    t.same((await metadata(root, WELL_KNOWN, { host: 'h.example' })).json(), expected('http://h.example'))

    const custom = Fastify()
    t.teardown(() => custom.close())
    await custom.register(oauth2, { prefix: '/auth', store, routes: { metadata: '/meta/' } })
    await custom.ready()
    const res = await metadata(custom, '/meta/auth', { host: 'h.example' })
    t.equal(res.statusCode, 200)
    t.equal(res.json().issuer, 'http://h.example/auth')
    t.equal((await metadata(custom, '/auth/meta/', { host: 'h.example' })).body, res.body)
  })

  t.test('a prefix ending in a slash, inside a prefixed context of the app', async (t) => {
    const store = await open(t)
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(async (api) => {
      await api.register(oauth2, { prefix: '/auth/', store })
      api.get('/me', { onRequest: api.oauth2.authenticate() }, async (request) => ({ user: request.user }))
    }, { prefix: '/api' })
    await app.ready()
    const res = await metadata(app, `/api/auth${WELL_KNOWN}`, { host: 'localhost:3000' })
    t.same(res.json(), expected('http://localhost:3000/api/auth'), 'the issuer has the whole prefix as its path')
    // A plugin inside a prefixed context cannot add a route at the origin's root: the app serves it (README).
    t.equal((await metadata(app, `${WELL_KNOWN}/api/auth`)).statusCode, 404)
    await fullFlow(t, app, store, '/api/auth', '/api/me')
  })
})
