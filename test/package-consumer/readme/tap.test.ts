import Fastify from 'fastify'
import t from 'tap'
import oauth2, { MemoryStore } from 'fastify-oauth2-server'
import { authenticateAs } from 'fastify-oauth2-server/testing'

t.test('GET /me answers the caller', async (t) => {
  const app = Fastify() // or your own app builder
  t.teardown(() => app.close())
  await app.register(oauth2, { store: new MemoryStore() })
  app.get('/me', { onRequest: app.oauth2.authenticate({ scopes: ['read'] }) }, async (request) => request.user)

  const res = await app.inject({ url: '/me', headers: await authenticateAs(app, { username: 'alice', scopes: ['read'] }) })
  t.equal(res.statusCode, 200)
  t.equal(res.json().username, 'alice')
})
