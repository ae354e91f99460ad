/**
 * The example server (`npm start`): the example app on a database, migrated on start.
 *
 * Environment: DATABASE_URL (default sqlite:./data/oauth2.sqlite; or postgres://…), PORT (3000),
 * HOST (127.0.0.1), LOG_LEVEL (info), THROTTLE (`off` disables the brute-force defence: for load tests and
 * black-box test runs only).
 */
import { KyselyStore, logRedactPaths, logSerializers, openDatabase, redactUrl } from '../lib/index.js'
import { buildExampleApp } from './app.js'
import { registerBrowserDemo } from './browser-demo.js'

const databaseUrl = process.env.DATABASE_URL ?? 'sqlite:./data/oauth2.sqlite'
const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'

// The raw handles let the store prepare the per-request token lookup once.
const { db, sqlite, pgPool } = await openDatabase(databaseUrl)
const store = new KyselyStore({ db, sqlite, pgPool })
await store.migrate()

// THROTTLE=off turns the brute-force defence off: for load tests and black-box test runs only.
const throttle = process.env.THROTTLE === 'off' ? false : undefined
const { app, publicClientId, created } = await buildExampleApp(store, { throttle }, {
  // No secret in a log line: no query strings, no headers, and redaction for anything logging them.
  logger: { level: process.env.LOG_LEVEL ?? 'info', serializers: logSerializers, redact: [...logRedactPaths] }
}, { docs: true })
// A browser app on /demo/ that logs in with the authorization code grant and PKCE.
await registerBrowserDemo(app, store, `http://${host.includes(':') ? `[${host}]` : host}:${port}`)
app.addHook('onClose', async () => { await db.destroy() })
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void app.close() })
}

await app.listen({ port, host })
console.log(`database: ${redactUrl(databaseUrl)}`)
console.log(`public client_id: ${publicClientId}${created ? ' (created now)' : ''}`)
console.log(`browser demo (authorization code with PKCE): http://${host}:${port}/demo/`)
if (app.hasRoute({ method: 'GET', url: '/docs' })) console.log(`API docs: http://${host}:${port}/docs`)
