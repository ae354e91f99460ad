/**
 * The packaging check's consumer (.ci/pack-check.sh): an app outside this repository that installed the
 * packed tarball. It is compiled with `tsc` against the published types (so a missing or broken `.d.ts`,
 * `exports` entry or type augmentation fails the check) and then run: it registers the plugin on a
 * MemoryStore, creates a public client, and listens; the script walks the seed's flow over HTTP.
 * Prints one JSON line when listening: `{"url": "http://127.0.0.1:<port>", "client_id": "<id>"}`.
 */
import Fastify from 'fastify'
import oauth2, { createClient, MemoryStore, OAuth2Error, type OAuth2ServerOptions, type OAuth2User } from 'fastify-oauth2-server'

/** The user as this app sees it: the store's `{ id, username }`, and a field the app may fill later. */
interface AppUser {
  id: string
  username: string
  nickname?: string
}

// Declared once: the user shape, and the request property holding it (as if @fastify/jwt held `user`).
declare module 'fastify-oauth2-server' {
  interface OAuth2ServerTypes {
    user: AppUser
    decorator: 'account'
  }
}

const userOnRequest: OAuth2User | null = null as AppUser | null
void userOnRequest

const store = new MemoryStore()
// No refresh reuse window: the script replays a rotated refresh token at once and expects it refused.
const options: OAuth2ServerOptions = { store, decorator: 'account', accessTokenTtl: 600, refreshTokenReuseInterval: 0 }

const app = Fastify()
await app.register(oauth2, options)
app.get('/ping', async () => ({ pong: true }))
app.get('/me', { onRequest: app.oauth2.authenticate() }, async (request) => {
  const account: AppUser | null = request.account
  // @ts-expect-error the user is on request.account here, as declared; request.user is not ours
  void request.user
  if (account === null) throw new OAuth2Error('insufficient_scope', 'This route needs a user token.', 403)
  return { id: account.id, username: account.username }
})

const { client } = await createClient(store, { name: 'pack-check app', type: 'public' })
const url = await app.listen({ host: '127.0.0.1', port: 0 })
console.log(JSON.stringify({ url, client_id: client.id }))
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void app.close() })
}
