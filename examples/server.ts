/**
 * The example server (`npm start`): the example app on a database, migrated on start.
 *
 * Environment: DATABASE_URL (default sqlite:./data/oauth2.sqlite; or postgres://…), PORT (3000),
 * HOST (127.0.0.1), LOG_LEVEL (info), THROTTLE (`off` disables the brute-force defence: for load tests and
 * black-box test runs only), ACCESS_TOKEN_TTL (seconds; 36000 answers as DOT did), SCOPES and DEFAULT_SCOPES
 * (space- or comma-separated, e.g. `read write groups`).
 */
import { KyselyStore, logRedactPaths, logSerializers, openDatabase, redactUrl } from '../lib/index.js'
import { buildExampleApp, dotSettings } from './app.js'

const databaseUrl = process.env.DATABASE_URL ?? 'sqlite:./data/oauth2.sqlite'
const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'

// The raw handles let the store prepare the per-request token lookup once.
const { db, sqlite, pgPool } = await openDatabase(databaseUrl)
const store = new KyselyStore({ db, sqlite, pgPool })
await store.migrate()

// THROTTLE=off turns the brute-force defence off: for load tests and black-box test runs only.
const throttle = process.env.THROTTLE === 'off' ? false : undefined
const { app, publicClientId, created } = await buildExampleApp(store, { throttle, ...dotSettings(process.env) }, {
  // No secret in a log line: no query strings, no headers, and redaction for anything logging them.
  logger: { level: process.env.LOG_LEVEL ?? 'info', serializers: logSerializers, redact: [...logRedactPaths] }
}, { docs: true })
app.addHook('onClose', async () => { await db.destroy() })
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void app.close() })
}

await app.listen({ port, host })
console.log(`database: ${redactUrl(databaseUrl)}`)
console.log(`public client_id: ${publicClientId}${created ? ' (created now)' : ''}`)
if (app.hasRoute({ method: 'GET', url: '/docs' })) console.log(`API docs: http://${host}:${port}/docs`)
