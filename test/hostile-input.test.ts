/**
 * Hostile input, as an attacker probing the example server would send it: repeated JSON keys, secrets in
 * query strings and bodies of every shape, a client left with no usable scope, half-sent requests. Each
 * gets a 4xx OAuth2 JSON answer (or the documented behaviour), changes nothing stored, and no secret
 * reaches a response body or a log line.
 */
import { connect } from 'node:net'
import { once } from 'node:events'
import { Writable } from 'node:stream'
import t from 'tap'
import { buildExampleApp } from '../examples/app.js'
import { createClient, logRedactPaths, logSerializers, MemoryStore } from '../lib/index.js'
import { repeatedJsonKey } from '../lib/routes/common.js'
import { hashToken } from '../lib/crypto/tokens.js'
import { buildApp, loggedIn } from './fixtures/app.js'
import { startExampleServer } from './fixtures/example-server.js'

t.test('repeatedJsonKey finds a key an object repeats, unescaped, at any depth, and nothing else', async (t) => {
  t.equal(repeatedJsonKey('{"a":1,"a":2}'), 'a')
  t.equal(repeatedJsonKey('{"a":1,"\\u0061":2}'), 'a', 'escapes are read')
  t.equal(repeatedJsonKey('{ "x" : {"b":[1,{"c":1,"c":2}]} }'), 'c', 'nested, with whitespace')
  t.equal(repeatedJsonKey('{"a":{"a":1},"b":["a","a"],"c":"a\\"a"}'), null, 'the same key in another object, and values, are fine')
  t.equal(repeatedJsonKey('[{"a":1},{"a":1}]'), null)
  t.equal(repeatedJsonKey('"a"'), null)
})

t.test('a JSON body that repeats a parameter is refused like a repeated form parameter; nothing stored', async (t) => {
  const ctx = await buildApp(t)
  const json = (url: string, payload: string) =>
    ctx.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload })
  const signUp = await json('/sign_up/', '{"username":"pony","password":"djangsta-secret","username":"admin"}')
  t.equal(signUp.statusCode, 400)
  t.same(signUp.json(), { error: 'invalid_request', error_description: 'The "username" parameter may be given only once.' })
  t.equal(await ctx.store.findUserByUsernameKey('pony'), null)
  t.equal(await ctx.store.findUserByUsernameKey('admin'), null)

  const tokens = await loggedIn(ctx)
  const login = await json('/o/token/', `{"grant_type":"password","client_id":"${ctx.publicId}","username":"pony","password":"x","password":"djangsta-secret"}`)
  t.equal(login.statusCode, 400)
  t.equal(login.json().error, 'invalid_request')
  const revoke = await json('/o/revoke_token/', `{"client_id":"${ctx.publicId}","token":"nothing","token":"${tokens.access_token}"}`)
  t.equal(revoke.statusCode, 400)
  t.equal((await ctx.me(tokens.access_token)).statusCode, 200, 'the token was not revoked')
  const long = await json('/o/token/', `{"${'k'.repeat(500)}":1,"${'k'.repeat(500)}":2}`)
  t.equal(long.json().error_description, `The "${'k'.repeat(64)}" parameter may be given only once.`, 'a long key is cut short')
  const fine = await json('/o/token/', `{"grant_type":"password","client_id":"${ctx.publicId}","username":"pony","password":"djangsta-secret","extra":{"a":1},"other":{"a":2}}`)
  t.equal(fine.statusCode, 200, 'unrelated objects may share key names')
  const poisoned = await json('/o/token/', '{"__proto__":{"admin":true},"grant_type":"password"}')
  t.equal(poisoned.statusCode, 400, 'prototype poisoning is still refused')
  t.equal(poisoned.json().error, 'invalid_request')
})

t.test('a client whose allowed scopes share nothing with the defaults must ask: invalid_scope, no token', async (t) => {
  const store = new MemoryStore()
  const ctx = await buildApp(t, { store, scopes: ['read', 'write', 'admin'], defaultScopes: ['read', 'write'] })
  await ctx.signUp('pony', 'djangsta-secret')
  const { client } = await createClient(store, { name: 'admin-tool', type: 'public', scopes: ['admin'] })
  const form = (payload: Record<string, string>) => ctx.app.inject({
    method: 'POST', url: '/o/token/', payload: { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: client.id, ...payload }
  })
  const res = await form({})
  t.equal(res.statusCode, 400)
  t.same(res.json(), { error: 'invalid_scope', error_description: 'No default scope is allowed for this client: ask for a scope.' })
  t.equal(await store.revokeUserTokens((await store.findUserByUsernameKey('pony'))!.id, 0), 0, 'no token was stored')
  const asked = await form({ scope: 'admin' })
  t.equal(asked.statusCode, 200)
  t.equal(asked.json().scope, 'admin')
})

t.test('no secret in any log line or response body of the example app with the plugin\'s log settings', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const store = new MemoryStore()
  const { app, publicClientId } = await buildExampleApp(store, { throttle: false }, {
    logger: { level: 'trace', stream, serializers: logSerializers, redact: [...logRedactPaths] }
  })
  t.teardown(() => app.close())
  const { clientSecret, client } = await createClient(store, { name: 'svc', type: 'confidential', grants: ['password', 'client_credentials'] })
  const signUp = await app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'pony', password: 'PW-sign-up-1' } })
  t.equal(signUp.statusCode, 201)
  const login = await app.inject({ method: 'POST', url: '/o/token/', payload: { grant_type: 'password', username: 'pony', password: 'PW-sign-up-1', client_id: publicClientId } })
  const { access_token: access, refresh_token: refresh } = login.json()
  const secrets = ['PW-sign-up-1', 'PW-in-query-2', 'PW-in-text-3', 'PW-huge-4', 'PW-repeated-5', clientSecret!, access, refresh]
  const basic = `Basic ${Buffer.from(`${client.id}:${clientSecret!}`).toString('base64')}`
  const requests = [
    { method: 'GET', url: `/o/token/?grant_type=password&username=pony&password=PW-in-query-2&client_id=${publicClientId}` },
    { method: 'GET', url: `/sign_up/?password=PW-in-query-2&refresh_token=${refresh}` },
    { method: 'GET', url: `/nowhere?access_token=${access}&client_secret=${clientSecret!}` },
    { method: 'POST', url: '/o/token/?password=PW-in-query-2', payload: { grant_type: 'password' } },
    { method: 'POST', url: '/o/token/', headers: { 'content-type': 'text/plain' }, payload: 'password=PW-in-text-3' },
    { method: 'POST', url: '/o/token/', payload: { grant_type: 'password', username: 'pony', password: `PW-huge-4${'x'.repeat(20_000)}` } },
    { method: 'POST', url: '/o/token/', headers: { 'content-type': 'application/json' }, payload: '{"password":"a","password":"PW-repeated-5"}' },
    { method: 'POST', url: '/o/token/', headers: { authorization: basic }, payload: { grant_type: 'password', username: 'pony', password: 'wrong' } },
    { method: 'POST', url: '/o/introspect/', headers: { authorization: basic }, payload: { token: access } },
    { method: 'POST', url: '/o/revoke_token/', payload: { token: refresh, client_id: 'nope' } },
    { method: 'GET', url: '/me', headers: { authorization: `Bearer ${access}x` } },
    { method: 'GET', url: '/me', headers: { authorization: `Bearer ${access}` } }
  ] as const
  const statuses: number[] = []
  for (const request of requests) {
    const res = await app.inject(request)
    statuses.push(res.statusCode)
    for (const secret of secrets) {
      t.notOk(res.body.includes(secret) || JSON.stringify(res.headers).includes(secret), `${request.method} ${request.url.slice(0, 30)}: no secret in the answer`)
    }
  }
  t.same(statuses, [404, 404, 404, 400, 415, 413, 400, 400, 200, 401, 401, 200])
  const log = lines.join('')
  t.match(log, /Route GET:\/o\/token\/\?\[redacted\] not found/, 'the not-found line is there, without its query')
  for (const secret of secrets) t.notOk(log.includes(secret), `no ${secret.slice(0, 12)}… in the log`)
  t.notOk(log.includes(hashToken(access)), 'nor a token hash')
})

t.test('the example server closes a connection that sends half a request and stops', async (t) => {
  const server = await startExampleServer(t, { CONNECTION_TIMEOUT: '1', THROTTLE: 'off' })
  const { hostname, port } = new URL(server.url)
  const socket = connect(Number(port), hostname)
  await once(socket, 'connect')
  socket.write('POST /o/token/ HTTP/1.1\r\nHost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ngrant_type=pa')
  let answer = ''
  socket.setEncoding('utf8').on('data', (chunk: string) => { answer += chunk })
  await once(socket, 'close')
  t.pass('the server closed the connection')
  t.notMatch(answer, /^HTTP\/1.1 [25]/, 'without a success or a 5xx')
  t.equal((await fetch(`${server.url}/ping`)).status, 200, 'and serves the next client')
})
