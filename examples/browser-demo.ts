/**
 * A browser app to try the authorization code grant with PKCE on the example server: `GET /demo/` serves a
 * static page and a small script, with a Content-Security-Policy that allows that script and nothing else.
 * The page signs a user up, sends the browser to `/o/authorize/` with a PKCE challenge, and, back on
 * `/demo/` with a code, exchanges it at `/o/token/` and calls `/me`. Its public client is created at start
 * (or found) with `/demo/` on the server's own origin as its redirect URI.
 */
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { createClient, escapeHtml, type OAuth2Store } from '../lib/index.js'

const NAME = 'browser demo'
const file = (name: string): string => readFileSync(new URL(`./browser-demo/${name}`, import.meta.url), 'utf8')
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'"

/** The redirect URIs of the demo for a server at `origin`: on a 127.0.0.1 origin, its localhost twin too. */
export function demoRedirectUris (origin: string): string[] {
  const uri = `${origin}/demo/`
  const url = new URL(uri)
  if (url.hostname !== '127.0.0.1') return [uri]
  url.hostname = 'localhost'
  return [uri, url.href]
}

/** Serves the demo on `app` for a server listening at `origin`; resolves to its client's id. */
export async function registerBrowserDemo (app: FastifyInstance, store: OAuth2Store, origin: string): Promise<string> {
  const redirectUris = demoRedirectUris(origin)
  const existing = (await store.listClients()).find((c) => c.name === NAME && redirectUris.every((u) => c.redirectUris.includes(u)))
  const clientId = existing?.id ?? (await createClient(store, {
    name: NAME, type: 'public', grants: ['authorization_code', 'refresh_token'], redirectUris
  })).client.id
  const page = file('index.html').replace('{{clientId}}', escapeHtml(clientId))
  const assets: Record<string, [string, string]> = {
    '/demo/demo.js': [file('demo.js'), 'text/javascript; charset=utf-8'],
    '/demo/demo.css': [file('demo.css'), 'text/css; charset=utf-8'],
    '/demo/': [page, 'text/html; charset=utf-8']
  }
  for (const [url, [body, type]] of Object.entries(assets)) {
    app.get(url, async (_request, reply) => reply.type(type).headers({ 'content-security-policy': CSP, 'cache-control': 'no-store' }).send(body))
  }
  return clientId
}
