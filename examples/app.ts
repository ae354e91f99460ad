/**
 * The example app: fastify-oauth2-server on a store, an open `GET /ping`, a protected `GET /me`, and a
 * public client created when the store has none; with `docs`, the API documentation at `/docs`.
 * `server.ts` runs it; tests build it with `inject`.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import oauth2, { createClient, notFoundHandler, oauth2ErrorBody, type OAuth2ServerOptions, type OAuth2Store } from '../lib/index.js'
import { registerDocs } from './docs.js'

export interface ExampleApp {
  app: FastifyInstance
  /** The `client_id` of the public client (created now, or found in the store). */
  publicClientId: string
  /** Whether the public client was created by this start. */
  created: boolean
}

/** The schemas of the example's own routes, for the docs. */
const pingSchema = {
  summary: 'An open route',
  tags: ['Example'],
  response: { 200: { type: 'object', properties: { pong: { type: 'boolean' } } } }
}
/** The schema of `GET /me` (the benchmark's reference route answers with the same shape). */
export const meSchema = {
  summary: 'The caller (a guarded route)',
  tags: ['Example'],
  security: [{ bearer: [] }],
  response: {
    200: { description: 'The user the token was issued to.', type: 'object', properties: { id: { type: 'string' }, username: { type: 'string' } } },
    401: { description: 'No token, or an invalid, expired or revoked one (RFC 6750 `WWW-Authenticate: Bearer`).', ...oauth2ErrorBody },
    403: { description: 'A client-credentials token: no user (`WWW-Authenticate: Bearer …, error="insufficient_scope"`).', ...oauth2ErrorBody }
  }
}

export async function buildExampleApp (
  store: OAuth2Store,
  /** The plugin's options, and the `prefix` to serve its routes under. */
  options: Partial<OAuth2ServerOptions> & { prefix?: string } = {},
  fastifyOptions: FastifyServerOptions = {},
  { docs = false }: { /** Serve the API documentation at `/docs` (when its plugins are installed). */ docs?: boolean } = {}
): Promise<ExampleApp> {
  const app = Fastify(fastifyOptions)
  // No secret in a 404's log line or body: a query string is redacted (see also the logger in server.ts).
  app.setNotFoundHandler(notFoundHandler)
  // RFC 6750 §3: a 403 for want of a user carries the challenge, as the guard's own 403s do.
  const { realm = 'api' } = options
  const needsUser = 'This route needs a user\'s token.'
  const needsUserChallenge = `Bearer realm="${realm}", error="insufficient_scope", error_description="${needsUser}"`
  if (docs) await registerDocs(app)
  await app.register(oauth2, { ...options, store })

  app.get('/ping', { schema: pingSchema }, async () => ({ pong: true }))
  // DOT clients call `/me/`: both spellings answer, and the docs list one.
  for (const [url, schema] of [['/me', meSchema], ['/me/', { ...meSchema, hide: true }]] as const) {
    app.get(url, { schema, onRequest: app.oauth2.authenticate() }, async (request, reply) => {
      if (request.user === null) {
        return reply.code(403).header('www-authenticate', needsUserChallenge)
          .send({ error: 'insufficient_scope', error_description: needsUser })
      }
      return { id: request.user.id, username: request.user.username }
    })
  }

  const existing = (await store.listClients()).find((c) => c.type === 'public' && c.grants.includes('password'))
  if (existing !== undefined) return { app, publicClientId: existing.id, created: false }
  const { client } = await createClient(store, { name: 'example public client', type: 'public' })
  return { app, publicClientId: client.id, created: true }
}

/**
 * The options a DOT deployment's settings map to, from the environment: ACCESS_TOKEN_TTL (seconds, DOT's
 * `ACCESS_TOKEN_EXPIRE_SECONDS`), SCOPES and DEFAULT_SCOPES (space- or comma-separated). Unset ones are left
 * to the plugin's defaults; bad ones fail registration with a message naming the option.
 */
export function dotSettings (env: Record<string, string | undefined>): Partial<OAuth2ServerOptions> {
  const list = (value: string): string[] => value.split(/[\s,]+/).filter((s) => s !== '')
  const settings: Partial<OAuth2ServerOptions> = {}
  if (env.ACCESS_TOKEN_TTL !== undefined) settings.accessTokenTtl = Number(env.ACCESS_TOKEN_TTL)
  if (env.SCOPES !== undefined) settings.scopes = list(env.SCOPES)
  if (env.DEFAULT_SCOPES !== undefined) settings.defaultScopes = list(env.DEFAULT_SCOPES)
  return settings
}
