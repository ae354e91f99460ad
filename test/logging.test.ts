/** No secret in a log line: the log of a whole flow, at trace level, holds no password, secret or token. */
import { Writable } from 'node:stream'
import t from 'tap'
import { buildExampleApp } from '../examples/app.js'
import { createClient, logRedactPaths, logSerializers, MemoryStore } from '../lib/index.js'
import { basic } from './fixtures/app.js'

t.test('the log of a full flow holds no password, client secret or token', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const store = new MemoryStore()
  const { app, publicClientId } = await buildExampleApp(store, { throttle: false }, {
    logger: { level: 'trace', stream, serializers: logSerializers, redact: [...logRedactPaths] }
  })
  t.teardown(() => app.close())
  const confidential = await createClient(store, { name: 'backend', type: 'confidential' })
  const password = 'Correct-Horse-Battery-Staple'
  const secrets: string[] = [password, confidential.clientSecret!]

  await app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 'pony', password } })
  const login = (await app.inject({
    method: 'POST', url: '/o/token/', payload: { grant_type: 'password', username: 'pony', password, client_id: publicClientId }
  })).json()
  secrets.push(login.access_token, login.refresh_token)
  const authorization = basic(confidential.client.id, confidential.clientSecret!)
  secrets.push(authorization.slice('Basic '.length))
  const viaBasic = (await app.inject({
    method: 'POST', url: '/o/token/', headers: { authorization }, payload: { grant_type: 'password', username: 'pony', password }
  })).json()
  secrets.push(viaBasic.access_token, viaBasic.refresh_token)
  await app.inject({ url: '/me', headers: { authorization: `Bearer ${login.access_token}` } })
  const refreshed = (await app.inject({
    method: 'POST', url: '/o/token/', payload: { grant_type: 'refresh_token', refresh_token: login.refresh_token, client_id: publicClientId }
  })).json()
  secrets.push(refreshed.access_token, refreshed.refresh_token)
  // Mistakes a client makes: secrets in the query string, a replayed refresh token, a bad password.
  await app.inject({ method: 'POST', url: `/o/token/?grant_type=password&username=pony&password=${password}&client_id=${publicClientId}` })
  await app.inject({ url: `/me?access_token=${refreshed.access_token}` })
  await app.inject({ method: 'POST', url: '/o/token/', payload: { grant_type: 'refresh_token', refresh_token: login.refresh_token, client_id: publicClientId } })
  await app.inject({ method: 'POST', url: '/o/token/', payload: { grant_type: 'password', username: 'pony', password: `${password}!`, client_id: publicClientId } })
  // A store failure is logged with its error.
  store.findClient = async () => { throw new Error('database unavailable') }
  await app.inject({ method: 'POST', url: '/o/token/', headers: { authorization }, payload: { grant_type: 'password', username: 'pony', password } })

  const log = lines.join('')
  t.ok(lines.length > 20, `${lines.length} log lines captured`)
  t.match(log, /incoming request/)
  t.match(log, /\?\[redacted\]/, 'query strings are redacted')
  t.match(log, /database unavailable/, 'the store failure is logged')
  for (const secret of secrets) {
    t.notOk(log.includes(secret), `secret ${secret.slice(0, 4)}… is not in the log`)
    t.notOk(log.includes(encodeURIComponent(secret)), 'nor URL-encoded')
  }
})

t.test('the redact paths hide headers and bodies for apps that log them', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const { default: Fastify } = await import('fastify')
  const app = Fastify({ logger: { level: 'info', stream, redact: [...logRedactPaths] } })
  t.teardown(() => app.close())
  app.post('/echo', async (request) => {
    request.log.info({ req: { headers: request.headers, body: request.body } }, 'an app logging everything')
    return {}
  })
  await app.inject({ method: 'POST', url: '/echo', headers: { authorization: 'Bearer s3cr3t-token' }, payload: { password: 'hunter2', client_secret: 'shh', refresh_token: 'rt', token: 'tk' } })
  const log = lines.join('')
  t.match(log, /an app logging everything/)
  for (const secret of ['s3cr3t-token', 'hunter2', '"shh"', '"rt"', '"tk"']) t.notOk(log.includes(secret), secret)
})
