/**
 * The example server (`npm start`): the example app on a database, migrated on start.
 *
 * Environment: DATABASE_URL (default sqlite:./data/oauth2.sqlite; or postgres://…), PORT (3000),
 * HOST (127.0.0.1), LOG_LEVEL (info), THROTTLE (`off` disables the brute-force defence: for load tests and
 * black-box test runs only), REFRESH_TOKEN_REUSE_INTERVAL (seconds; the plugin's default, 5, when unset),
 * CONNECTION_TIMEOUT (seconds a connection may sit idle, 10) and REQUEST_TIMEOUT (seconds to receive a whole
 * request, 30): without them a client that sends half a request holds its connection open forever;
 * ACCESS_TOKEN_TTL (seconds; 36000 answers as DOT did), SCOPES and DEFAULT_SCOPES (space- or
 * comma-separated, e.g. `read write groups`).
 */
import { KyselyStore, logRedactPaths, logSerializers, redactUrl } from '../lib/index.js'
import { buildExampleApp, dotSettings } from './app.js'
import { registerBrowserDemo } from './browser-demo.js'

const databaseUrl = process.env.DATABASE_URL ?? 'sqlite:./data/oauth2.sqlite'
const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'

// Opened, wired with its driver's fast per-request token lookup, and migrated.
const store = await KyselyStore.open(databaseUrl)

/** A whole number of seconds from the environment, or `fallback` when unset; exits on anything else. */
function seconds (name: string, fallback: number | undefined): number | undefined {
  const value = process.env[name]
  if (value === undefined || value === '') return fallback
  if (!/^\d+$/.test(value)) {
    console.error(`${name} must be a whole number of seconds, got ${JSON.stringify(value)}`)
    process.exit(2)
  }
  return Number(value)
}

// THROTTLE=off turns the brute-force defence off: for load tests and black-box test runs only.
const throttle = process.env.THROTTLE === 'off' ? false : undefined
const refreshTokenReuseInterval = seconds('REFRESH_TOKEN_REUSE_INTERVAL', undefined)
const { app, publicClientId, created } = await buildExampleApp(store, { throttle, refreshTokenReuseInterval, ...dotSettings(process.env) }, {
  // No secret in a log line: no query strings, no headers, and redaction for anything logging them.
  logger: { level: process.env.LOG_LEVEL ?? 'info', serializers: logSerializers, redact: [...logRedactPaths] },
  // A connection idle this long is closed, and a request must arrive whole within requestTimeout: a client
  // sending half a body (by accident or to exhaust the server) cannot hold a connection for ever.
  connectionTimeout: (seconds('CONNECTION_TIMEOUT', 10) as number) * 1000,
  requestTimeout: (seconds('REQUEST_TIMEOUT', 30) as number) * 1000
}, { docs: true })
// A browser app on /demo/ that logs in with the authorization code grant and PKCE.
await registerBrowserDemo(app, store, `http://${host.includes(':') ? `[${host}]` : host}:${port}`)
app.addHook('onClose', async () => { await store.close() })
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void app.close() })
}

await app.listen({ port, host })
console.log(`database: ${redactUrl(databaseUrl)}`)
console.log(`public client_id: ${publicClientId}${created ? ' (created now)' : ''}`)
console.log(`browser demo (authorization code with PKCE): http://${host}:${port}/demo/`)
if (app.hasRoute({ method: 'GET', url: '/docs' })) console.log(`API docs: http://${host}:${port}/docs`)
