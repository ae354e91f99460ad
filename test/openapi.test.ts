/**
 * OpenAPI: every route of the plugin carries its full schema (body, and each answer including the error
 * bodies), so @fastify/swagger documents it; the example server serves the document and a UI at /docs.
 */
import swagger from '@fastify/swagger'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { buildExampleApp } from '../examples/app.js'
import { registerDocs } from '../examples/docs.js'
import oauth2, { createClient, MemoryStore } from '../lib/index.js'

interface MediaType { schema: { type?: string, properties?: Record<string, unknown>, required?: string[] } }
interface Operation {
  summary?: string
  tags?: string[]
  security?: unknown[]
  requestBody?: { required: boolean, content: Record<string, MediaType> }
  responses: Record<string, { description: string, content?: Record<string, MediaType>, headers?: Record<string, unknown> }>
}
interface OpenApiDocument { openapi: string, paths: Record<string, Record<string, Operation>> }

const FORM = 'application/x-www-form-urlencoded'
const JSON_TYPE = 'application/json'
const POST_ROUTES = ['/o/token/', '/sign_up/', '/o/revoke_token/', '/o/introspect/']
const METADATA = '/.well-known/oauth-authorization-server'

async function exampleDocument (t: Test): Promise<{ doc: OpenApiDocument, inject: ReturnType<typeof Fastify>['inject'] }> {
  const { app } = await buildExampleApp(new MemoryStore(), { throttle: false }, {}, { docs: true })
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/docs/json' })
  t.equal(res.statusCode, 200)
  return { doc: res.json(), inject: app.inject.bind(app) }
}

/** Checks that a response is the OAuth2 error body `{ error, error_description }`. */
function isErrorBody (t: Test, response: Operation['responses'][string] | undefined, name: string): void {
  const schema = response?.content?.[JSON_TYPE]?.schema
  t.same(Object.keys(schema?.properties ?? {}), ['error', 'error_description'], `${name}: the OAuth2 error body`)
  t.same(schema?.required, ['error', 'error_description'], `${name}: both fields always present`)
}

t.test("the token route's form body and its error answers are documented", async (t) => {
  const { doc } = await exampleDocument(t)
  t.match(doc.openapi, /^3\./)
  const token = doc.paths['/o/token/']?.post
  if (token === undefined) throw new Error('the token route is not documented')
  t.same(token.tags, ['OAuth2'])
  t.match(token.summary, /Token endpoint/)
  t.equal(token.requestBody?.required, true)
  t.same(Object.keys(token.requestBody?.content ?? {}).sort(), [JSON_TYPE, FORM], 'form (RFC 6749) and JSON bodies')
  for (const media of [FORM, JSON_TYPE]) {
    const body = token.requestBody?.content[media]?.schema
    t.same(Object.keys(body?.properties ?? {}),
      ['grant_type', 'username', 'password', 'refresh_token', 'scope', 'code', 'redirect_uri', 'code_verifier', 'client_id', 'client_secret'], media)
    t.match(body?.properties?.grant_type, { type: 'string', maxLength: 64, description: /password.*refresh_token.*client_credentials/ })
  }

  t.same(Object.keys(token.responses).sort(), ['200', '400', '401', '413', '415', '429', '503'])
  const ok = token.responses['200']?.content?.[JSON_TYPE]?.schema
  t.same(Object.keys(ok?.properties ?? {}), ['access_token', 'expires_in', 'token_type', 'scope', 'refresh_token'])
  t.same(ok?.required, ['access_token', 'expires_in', 'token_type', 'scope'], 'refresh_token is not always issued')
  t.match(token.responses['200']?.headers, { 'cache-control': {}, pragma: {} })
  for (const status of ['400', '401', '413', '415', '429', '503']) {
    isErrorBody(t, token.responses[status], `token ${status}`)
    t.ok((token.responses[status]?.description.length ?? 0) > 20, `token ${status}: described`)
  }
  t.match(token.responses['401']?.headers, { 'www-authenticate': { description: /Basic/ } })
  t.match(token.responses['429']?.headers, { 'retry-after': {} })
  t.match(token.responses['503']?.headers, { 'retry-after': {} })
})

t.test('every route of the plugin is documented once, with its body and its error answers', async (t) => {
  const { doc } = await exampleDocument(t)
  t.same(Object.keys(doc.paths).sort(), [...POST_ROUTES, METADATA, '/me', '/ping'].sort(),
    'each route once: the path without its trailing slash is served but not documented again')
  for (const path of POST_ROUTES) {
    const operation = doc.paths[path]?.post
    t.same(Object.keys(operation?.requestBody?.content ?? {}).sort(), [JSON_TYPE, FORM], `${path}: both bodies`)
    t.same(operation?.tags, ['OAuth2'], path)
    const statuses = Object.keys(operation?.responses ?? {})
    t.ok(statuses.some((s) => s.startsWith('2')), `${path}: its success is documented`)
    for (const status of ['400', '413', '415', '503']) isErrorBody(t, operation?.responses[status], `${path} ${status}`)
  }
  t.same(Object.keys(doc.paths['/sign_up/']?.post?.responses ?? {}).sort(), ['201', '400', '413', '415', '429', '503'])
  t.same(Object.keys(doc.paths['/sign_up/']?.post?.responses['201']?.content?.[JSON_TYPE]?.schema.properties ?? {}), ['id', 'username'])
  const revoked = doc.paths['/o/revoke_token/']?.post?.responses['200']
  t.match(revoked?.content?.[JSON_TYPE]?.schema, { type: 'object', additionalProperties: false }, 'revocation answers {}')
  isErrorBody(t, doc.paths['/o/revoke_token/']?.post?.responses['401'], 'revoke 401')
  isErrorBody(t, doc.paths['/o/introspect/']?.post?.responses['401'], 'introspect 401')
  t.match(Object.keys(doc.paths['/o/introspect/']?.post?.responses['200']?.content?.[JSON_TYPE]?.schema.properties ?? {}),
    ['active', 'scope', 'client_id', 'username', 'exp', 'iat', 'token_type'])

  const metadata = doc.paths[METADATA]?.get
  t.same(Object.keys(metadata?.responses ?? {}), ['200', '400'])
  t.match(metadata?.responses['200']?.content?.[JSON_TYPE]?.schema.required, ['issuer', 'token_endpoint'])
  isErrorBody(t, metadata?.responses['400'], 'metadata 400')

  const me = doc.paths['/me']?.get
  t.same(me?.security, [{ bearer: [] }], "the example's guarded route names the bearer scheme")
  isErrorBody(t, me?.responses['401'], '/me 401')
  isErrorBody(t, me?.responses['403'], '/me 403')
})

t.test('the UI is served at /docs', async (t) => {
  const { inject } = await exampleDocument(t)
  const page = await inject({ url: '/docs/' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, /swagger-ui/i)
  const redirect = await inject({ url: '/docs' })
  t.ok(redirect.statusCode === 200 || redirect.statusCode === 302, `GET /docs answers (${redirect.statusCode})`)
})

t.test('the response schemas change no answer: exact fields, in order, success and errors', async (t) => {
  const store = new MemoryStore()
  const { app, publicClientId } = await buildExampleApp(store, { throttle: false }, {}, { docs: true })
  t.teardown(() => app.close())
  const signUp = await app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'pony', password: 'djangsta-secret' } })
  t.equal(signUp.statusCode, 201)
  t.same(Object.keys(signUp.json()), ['id', 'username'])
  const login = await app.inject({
    method: 'POST',
    url: '/o/token/',
    headers: { 'content-type': FORM },
    payload: `grant_type=password&username=pony&password=djangsta-secret&client_id=${publicClientId}`
  })
  t.equal(login.statusCode, 200)
  t.same(Object.keys(login.json()), ['access_token', 'expires_in', 'token_type', 'scope', 'refresh_token'], "DOT's field order")
  t.match(login.json(), { expires_in: 3600, token_type: 'Bearer', scope: 'read write' })
  const me = await app.inject({ url: '/me', headers: { authorization: `Bearer ${login.json().access_token as string}` } })
  t.same(me.json(), { id: signUp.json().id, username: 'pony' })
  const wrong = await app.inject({ method: 'POST', url: '/o/token', payload: { grant_type: 'password', username: 'pony', password: 'nope', client_id: publicClientId } })
  t.equal(wrong.statusCode, 400)
  t.same(wrong.json(), { error: 'invalid_grant', error_description: 'Invalid credentials given.' })
  const anonymous = await app.inject({ url: '/me' })
  t.equal(anonymous.statusCode, 401)
  t.same(anonymous.json(), { error: 'unauthorized', error_description: 'Authentication credentials were not provided.' })
  const introspected = await app.inject({ method: 'POST', url: '/o/introspect/', payload: { token: 'x', client_id: publicClientId } })
  t.equal(introspected.statusCode, 401, 'a public client may not introspect')
  t.same(Object.keys(introspected.json()), ['error', 'error_description'])

  const service = await createClient(store, { name: 'batch', type: 'confidential', grants: ['client_credentials'] })
  const serviceToken = await app.inject({
    method: 'POST',
    url: '/o/token/',
    payload: { grant_type: 'client_credentials', client_id: service.client.id, client_secret: service.clientSecret }
  })
  t.same(Object.keys(serviceToken.json()), ['access_token', 'expires_in', 'token_type', 'scope'], 'no refresh token')
  const noUser = await app.inject({ url: '/me', headers: { authorization: `Bearer ${serviceToken.json().access_token as string}` } })
  t.equal(noUser.statusCode, 403)
  t.equal(noUser.headers['www-authenticate'],
    'Bearer realm="api", error="insufficient_scope", error_description="This route needs a user\'s token."', 'RFC 6750 §3')
  t.same(noUser.json(), { error: 'insufficient_scope', error_description: 'This route needs a user\'s token.' })
})

t.test('@fastify/swagger registered in any app documents the routes where they are: custom paths, a prefix', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, { openapi: { info: { title: 'an app', version: '1' } } })
  await app.register(oauth2, { store: new MemoryStore(), prefix: '/auth', routes: { token: '/oauth/token', signUp: false } })
  await app.ready()
  const doc = app.swagger() as unknown as OpenApiDocument
  t.same(Object.keys(doc.paths).sort(), [
    '/.well-known/oauth-authorization-server/auth', // RFC 8414 §3.1, for the issuer <origin>/auth
    '/auth/.well-known/oauth-authorization-server', '/auth/o/introspect/', '/auth/o/revoke_token/', '/auth/oauth/token'
  ])
  t.same(Object.keys(doc.paths['/auth/oauth/token']?.post?.requestBody?.content ?? {}).sort(), [JSON_TYPE, FORM])
})

t.test('without @fastify/swagger installed the example starts all the same, without /docs', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  t.equal(await registerDocs(app, async () => { throw new Error("Cannot find package '@fastify/swagger'") }), false)
  await app.ready()
  t.equal((await app.inject({ url: '/docs/json' })).statusCode, 404)
})
