/**
 * The example server answers as a DOT deployment did: `/me/` as well as `/me`, and DOT's token lifetime and
 * scopes from ACCESS_TOKEN_TTL, SCOPES and DEFAULT_SCOPES.
 */
import t from 'tap'
import { MemoryStore } from '../lib/index.js'
import { buildExampleApp, dotSettings } from '../examples/app.js'
import { startExampleServer } from './fixtures/example-server.js'

t.test('dotSettings reads the environment; unset variables leave the defaults', async (t) => {
  t.same(dotSettings({}), {})
  t.same(dotSettings({ ACCESS_TOKEN_TTL: '36000', SCOPES: 'read write  groups', DEFAULT_SCOPES: 'read,write' }),
    { accessTokenTtl: 36_000, scopes: ['read', 'write', 'groups'], defaultScopes: ['read', 'write'] })
})

t.test('the example app answers /me/ and /me alike, with DOT\'s settings', async (t) => {
  const { app, publicClientId } = await buildExampleApp(new MemoryStore(), {
    throttle: false, ...dotSettings({ ACCESS_TOKEN_TTL: '36000', SCOPES: 'read write groups', DEFAULT_SCOPES: 'read write' })
  })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'django.pony', password: 'djangsta-secret' } })).statusCode, 201)
  const login = await app.inject({ method: 'POST', url: '/o/token/', payload: { grant_type: 'password', username: 'django.pony', password: 'djangsta-secret', client_id: publicClientId } })
  t.match(login.json(), { expires_in: 36_000, scope: 'read write' })
  for (const url of ['/me', '/me/']) {
    const me = await app.inject({ url, headers: { authorization: `Bearer ${login.json().access_token as string}` } })
    t.equal(me.statusCode, 200, url)
    t.same(me.json(), { id: me.json().id, username: 'django.pony' }, url)
  }
  t.equal((await app.inject({ url: '/me/' })).statusCode, 401)
})

t.test('the example server takes them from its environment', async (t) => {
  const server = await startExampleServer(t, { THROTTLE: 'off', ACCESS_TOKEN_TTL: '36000', SCOPES: 'read write groups' })
  const post = async (path: string, body: Record<string, string>): Promise<any> => await (await fetch(`${server.url}${path}`, {
    method: 'POST', body: new URLSearchParams(body)
  })).json()
  await post('/sign_up/', { username: 'django.pony', password: 'djangsta-secret' })
  const tokens = await post('/o/token/', { grant_type: 'password', username: 'django.pony', password: 'djangsta-secret', client_id: server.clientId })
  t.match(tokens, { expires_in: 36_000, scope: 'read write groups' }, 'as DOT answered')
  const me = await fetch(`${server.url}/me/`, { headers: { authorization: `Bearer ${tokens.access_token as string}` } })
  t.equal(me.status, 200)
})
