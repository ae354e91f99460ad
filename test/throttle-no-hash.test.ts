/**
 * A throttled login is refused before the user is looked up or any password is verified: it costs the
 * server no hash. Shown with an app-owned user source that counts its calls.
 */
import Fastify from 'fastify'
import t from 'tap'
import oauth2, { createClient, MemoryStore, type AppUser } from '../lib/index.js'

const ATTACKER = '203.0.113.7'

t.test('a throttled login computes no hash and looks nothing up', async (t) => {
  const calls = { findByUsername: 0, verifyPassword: 0 }
  const pony: AppUser = { id: '1', username: 'pony' }
  const store = new MemoryStore()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(oauth2, {
    store,
    throttle: { loginFailuresPerUser: 2 },
    users: {
      findByUsername: async (username) => { calls.findByUsername++; return username === 'pony' ? pony : null },
      findById: async (id) => id === '1' ? pony : null,
      verifyPassword: async (_user, password) => { calls.verifyPassword++; return password === 'right-password' }
    }
  })
  const { client } = await createClient(store, { name: 'spa', type: 'public' })
  const login = (password: string) => app.inject({
    method: 'POST', url: '/o/token/', remoteAddress: ATTACKER,
    payload: { grant_type: 'password', username: 'pony', password, client_id: client.id }
  })
  t.equal((await login('wrong-1')).statusCode, 400)
  t.equal((await login('wrong-2')).statusCode, 400)
  t.same(calls, { findByUsername: 2, verifyPassword: 2 })
  t.equal((await login('wrong-3')).statusCode, 429)
  t.equal((await login('right-password')).statusCode, 429)
  t.same(calls, { findByUsername: 2, verifyPassword: 2 }, 'no lookup, no verify while throttled')
})
