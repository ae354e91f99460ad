/**
 * The example app: fastify-oauth2-server on a store, an open `GET /ping`, a protected `GET /me`, and a
 * public client created when the store has none. `server.ts` runs it; tests build it with `inject`.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import oauth2, { createClient, type OAuth2ServerOptions, type OAuth2Store } from '../lib/index.js'

export interface ExampleApp {
  app: FastifyInstance
  /** The `client_id` of the public client (created now, or found in the store). */
  publicClientId: string
  /** Whether the public client was created by this start. */
  created: boolean
}

export async function buildExampleApp (
  store: OAuth2Store,
  options: Partial<OAuth2ServerOptions> = {},
  fastifyOptions: FastifyServerOptions = {}
): Promise<ExampleApp> {
  const app = Fastify(fastifyOptions)
  await app.register(oauth2, { ...options, store })

  app.get('/ping', async () => ({ pong: true }))
  app.get('/me', { onRequest: app.oauth2.authenticate() }, async (request, reply) => {
    if (request.user === null) {
      return reply.code(403).send({ error: 'insufficient_scope', error_description: 'This route needs a user\'s token.' })
    }
    return { id: request.user.id, username: request.user.username }
  })

  const existing = (await store.listClients()).find((c) => c.type === 'public' && c.grants.includes('password'))
  if (existing !== undefined) return { app, publicClientId: existing.id, created: false }
  const { client } = await createClient(store, { name: 'example public client', type: 'public' })
  return { app, publicClientId: client.id, created: true }
}
