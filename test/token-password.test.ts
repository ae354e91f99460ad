/** RFC 6749 §4.3 (password grant), §2.3.1 (client authentication), §5.1/§5.2 (responses). */
import t from 'tap'
import { createClient, type ClientRecord } from '../lib/index.js'
import { hashToken } from '../lib/crypto/tokens.js'
import { MemoryStore } from '../lib/store/memory-store.js'
import { basic, buildApp, loggedIn } from './fixtures/app.js'

t.test('a public client logs a user in: 200, RFC 6749 §5.1 body, no-store headers', async (t) => {
  const ctx = await buildApp(t)
  t.equal((await ctx.signUp('pony', 'djangsta-secret')).statusCode, 201)
  const res = await ctx.login('pony', 'djangsta-secret')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers.pragma, 'no-cache')
  t.match(res.headers['content-type'], /^application\/json/)
  const body = res.json()
  t.same(Object.keys(body), ['access_token', 'expires_in', 'token_type', 'scope', 'refresh_token'])
  t.match(body, { token_type: 'Bearer', expires_in: 3600, scope: 'read write' })
  t.match(body.access_token, /^[A-Za-z0-9_-]{43}$/, '256 bits, base64url')
  t.match(body.refresh_token, /^[A-Za-z0-9_-]{43}$/)
  t.not(body.access_token, body.refresh_token)

  const me = await ctx.me(body.access_token)
  t.equal(me.statusCode, 200)
  t.equal(me.json().user.username, 'pony')

  // The store holds hashes only.
  const found = await ctx.store.findByAccessTokenHash(hashToken(body.access_token))
  t.ok(found)
  t.equal((await ctx.store.findByRefreshTokenHash(hashToken(body.refresh_token)))?.id, found!.token.id, 'the refresh token is the same record')
  t.notMatch(JSON.stringify(found), body.access_token)
  t.notMatch(JSON.stringify(found), body.refresh_token)
})

t.test('a JSON body works at the token endpoint too', async (t) => {
  const ctx = await buildApp(t)
  await ctx.signUp('pony', 'djangsta-secret')
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/o/token',
    payload: { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: ctx.publicId }
  })
  t.equal(res.statusCode, 200)
})

t.test('wrong password and unknown user give identical answers (RFC 6749 §5.2 invalid_grant)', async (t) => {
  const ctx = await buildApp(t)
  await ctx.signUp('pony', 'djangsta-secret')
  const wrong = await ctx.login('pony', 'not-the-password')
  const unknown = await ctx.login('nobody', 'djangsta-secret')
  const huge = await ctx.login('x'.repeat(1000), 'djangsta-secret')
  for (const res of [wrong, unknown, huge]) {
    t.equal(res.statusCode, 400)
    t.same(res.json(), { error: 'invalid_grant', error_description: 'Invalid credentials given.' })
    t.equal(res.headers['cache-control'], 'no-store')
    t.equal(res.headers['www-authenticate'], undefined)
  }
  t.equal(wrong.body, unknown.body)
})

t.test('usernames are case-insensitive and NFKC-normalized at login', async (t) => {
  const ctx = await buildApp(t)
  await ctx.signUp('Pony', 'djangsta-secret')
  t.equal((await ctx.login('PONY', 'djangsta-secret')).statusCode, 200)
  t.equal((await ctx.login('ｐｏｎｙ', 'djangsta-secret')).statusCode, 200, 'fullwidth letters fold to ASCII')
})

t.test('a confidential client authenticates with HTTP Basic or with the body', async (t) => {
  const ctx = await buildApp(t)
  await ctx.signUp('pony', 'djangsta-secret')
  const payload = 'grant_type=password&username=pony&password=djangsta-secret'
  const viaBasic = await ctx.app.inject({
    method: 'POST',
    url: '/o/token/',
    headers: { authorization: basic(ctx.confidentialId, ctx.confidentialSecret), 'content-type': 'application/x-www-form-urlencoded' },
    payload
  })
  t.equal(viaBasic.statusCode, 200)
  const viaBody = await ctx.login('pony', 'djangsta-secret', { client_id: ctx.confidentialId, client_secret: ctx.confidentialSecret })
  t.equal(viaBody.statusCode, 200)
  const lower = await ctx.app.inject({
    method: 'POST',
    url: '/o/token/',
    headers: { authorization: basic(ctx.confidentialId, ctx.confidentialSecret).replace('Basic', 'basic'), 'content-type': 'application/x-www-form-urlencoded' },
    payload
  })
  t.equal(lower.statusCode, 200, 'the scheme is case-insensitive')
})

t.test('Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1): `:`, `+`, `%`, UTF-8', async (t) => {
  const store = new MemoryStore()
  const ctx = await buildApp(t, { store })
  await ctx.signUp('pony', 'djangsta-secret')
  const id = 'client:with+odd%chars é'
  const secret = 's3cr:et+%20ü 漢字'
  const client: ClientRecord = {
    id,
    name: 'odd',
    type: 'confidential',
    secretHash: hashToken(secret),
    grants: ['password'],
    scopes: [],
    redirectUris: [],
    requireConsent: false,
    refreshCookie: false,
    origins: [],
    createdAt: 0
  }
  await store.createClient(client)
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/o/token/',
    headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=password&username=pony&password=djangsta-secret'
  })
  t.equal(res.statusCode, 200, res.body)
  t.notOk(res.json().refresh_token, 'no refresh token for a client without the refresh_token grant')
  const raw = await ctx.app.inject({
    method: 'POST',
    url: '/o/token/',
    // The same credentials without the form-encoding step: `+` would decode to a space.
    headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=password&username=pony&password=djangsta-secret'
  })
  t.equal(raw.statusCode, 401)
})

t.test('client authentication failures: 401 invalid_client with a Basic challenge, nothing issued', async (t) => {
  const ctx = await buildApp(t)
  await ctx.signUp('pony', 'djangsta-secret')
  const form = 'grant_type=password&username=pony&password=djangsta-secret'
  const cases: Array<[string, Record<string, string>, string]> = [
    ['wrong secret via Basic', { authorization: basic(ctx.confidentialId, 'wrong') }, form],
    ['unknown client via Basic', { authorization: basic('nope', 'x') }, form],
    ['malformed Basic', { authorization: 'Basic !!!' }, form],
    ['Basic without a colon', { authorization: `Basic ${Buffer.from('justanid').toString('base64')}` }, form],
    ['wrong secret in the body', {}, `${form}&client_id=${ctx.confidentialId}&client_secret=wrong`],
    ['confidential client without its secret', {}, `${form}&client_id=${ctx.confidentialId}`],
    ['public client presenting a secret', {}, `${form}&client_id=${ctx.publicId}&client_secret=x`],
    ['unknown client_id', {}, `${form}&client_id=nope`],
    ['no client at all', {}, form],
    ['Basic id differing from body client_id', { authorization: basic(ctx.confidentialId, ctx.confidentialSecret) }, `${form}&client_id=${ctx.publicId}`]
  ]
  for (const [name, headers, payload] of cases) {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/o/token/',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      payload
    })
    t.equal(res.statusCode, 401, name)
    t.equal(res.json().error, 'invalid_client', name)
    t.equal(res.headers['www-authenticate'], 'Basic realm="api"', name)
    t.equal(res.headers['cache-control'], 'no-store', name)
  }
  const both = await ctx.app.inject({
    method: 'POST',
    url: '/o/token/',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(ctx.confidentialId, ctx.confidentialSecret) },
    payload: `${form}&client_secret=${ctx.confidentialSecret}`
  })
  t.equal(both.statusCode, 400, 'two authentication methods at once')
  t.equal(both.json().error, 'invalid_request')
})

t.test('grant and parameter errors (RFC 6749 §5.2)', async (t) => {
  const ctx = await buildApp(t)
  const ccOnly = await createClient(ctx.store, { name: 'cc', type: 'confidential', grants: ['client_credentials'] })
  await ctx.signUp('pony', 'djangsta-secret')
  const post = (payload: string, headers: Record<string, string> = {}) => ctx.app.inject({
    method: 'POST', url: '/o/token/', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload
  })
  const id = `client_id=${ctx.publicId}`
  const expectations: Array<[string, string, number, string, string?]> = [
    ['missing grant_type', id, 400, 'invalid_request', 'Request is missing grant_type parameter.'],
    ['empty grant_type', `grant_type=&${id}`, 400, 'invalid_request'],
    ['unknown grant', `grant_type=foo&${id}`, 400, 'unsupported_grant_type'],
    ['authorization_code, not allowed for this client', `grant_type=authorization_code&${id}`, 400, 'unauthorized_client'],
    ['__proto__ as a grant', `grant_type=__proto__&${id}`, 400, 'unsupported_grant_type'],
    ['grant not allowed for the client', `grant_type=client_credentials&${id}`, 400, 'unauthorized_client'],
    ['missing password', `grant_type=password&username=pony&${id}`, 400, 'invalid_request', 'Request is missing password parameter.'],
    ['missing username', `grant_type=password&password=x&${id}`, 400, 'invalid_request', 'Request is missing username parameter.'],
    ['unknown scope', `grant_type=password&username=pony&password=djangsta-secret&scope=bogus&${id}`, 400, 'invalid_scope'],
    ['one unknown scope among known ones', `grant_type=password&username=pony&password=djangsta-secret&scope=read+bogus&${id}`, 400, 'invalid_scope'],
    ['empty scope', `grant_type=password&username=pony&password=djangsta-secret&scope=&${id}`, 400, 'invalid_scope']
  ]
  for (const [name, payload, status, error, description] of expectations) {
    const res = await post(payload)
    t.equal(res.statusCode, status, name)
    t.equal(res.json().error, error, name)
    if (description !== undefined) t.equal(res.json().error_description, description, name)
  }
  const cc = await post('grant_type=password&username=pony&password=djangsta-secret', { authorization: basic(ccOnly.client.id, ccOnly.clientSecret!) })
  t.equal(cc.json().error, 'unauthorized_client', 'a client_credentials-only client cannot use the password grant')
})

t.test('scopes: asked ones are granted, none asked gives the defaults, client limits apply', async (t) => {
  const ctx = await buildApp(t, { scopes: ['read', 'write', 'groups'], defaultScopes: ['read'] })
  const limited = await createClient(ctx.store, { name: 'limited', type: 'public', scopes: ['read', 'groups'] })
  await ctx.signUp('pony', 'djangsta-secret')
  t.equal((await ctx.login('pony', 'djangsta-secret')).json().scope, 'read')
  t.equal((await ctx.login('pony', 'djangsta-secret', { scope: 'groups write' })).json().scope, 'groups write')
  const res = await ctx.login('pony', 'djangsta-secret', { client_id: limited.client.id, scope: 'write' })
  t.equal(res.json().error, 'invalid_scope', 'a scope the client may not ask for')
  t.equal((await ctx.login('pony', 'djangsta-secret', { client_id: limited.client.id, scope: 'groups' })).json().scope, 'groups')
})

t.test('each login starts its own family; earlier logins stay valid', async (t) => {
  const ctx = await buildApp(t)
  const first = await loggedIn(ctx)
  const second = (await ctx.login('pony', 'djangsta-secret')).json()
  t.not(first.access_token, second.access_token)
  t.equal((await ctx.me(first.access_token)).statusCode, 200)
  t.equal((await ctx.me(second.access_token)).statusCode, 200)
  const a = await ctx.store.findByAccessTokenHash(hashToken(first.access_token))
  const b = await ctx.store.findByAccessTokenHash(hashToken(second.access_token))
  t.not(a!.token.familyId, b!.token.familyId)
})

t.test('GET on the token endpoint is not a token request', async (t) => {
  const ctx = await buildApp(t)
  const res = await ctx.app.inject({ method: 'GET', url: '/o/token/' })
  t.equal(res.statusCode, 404)
})
