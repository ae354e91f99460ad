/**
 * Runs the bring-your-own-users recipe (`existing-users.ts`): `npx tsx examples/existing-users-server.ts`.
 *
 * Environment: DATABASE_FILE (default ./data/existing-users.sqlite; point it at a Django project's db.sqlite3
 * to log its users in), UPGRADE_HASHES=1 to rewrite weaker PBKDF2 hashes at login (with PBKDF2_ITERATIONS,
 * default 600000: set Django's count), PORT (3000), HOST (127.0.0.1). The file is opened as it is: not
 * switched to WAL (`openDatabase` would, for good). A file without `auth_user` gets one, with the user
 * `django.pony` / `djangsta-secret` hashed the way Django 3.2 does.
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import { AUTH_USER_DDL, buildExistingUsersApp, type AppDatabase } from './existing-users.js'

const file = process.env.DATABASE_FILE ?? './data/existing-users.sqlite'
const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'

/** A password hash as Django's PBKDF2PasswordHasher writes it (260 000 iterations: Django 3.2). */
function djangoHash (password: string): string {
  const salt = randomBytes(16).toString('base64url').slice(0, 22)
  const key = pbkdf2Sync(password, salt, 260_000, 32, 'sha256').toString('base64')
  return `pbkdf2_sha256$260000$${salt}$${key}`
}

/** Creates Django's table with one demo user, unless the file already has it. */
async function seed (db: Kysely<AppDatabase>): Promise<void> {
  const found = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name = 'auth_user'`.execute(db)
  if (found.rows.length > 0) return
  await sql.raw(AUTH_USER_DDL).execute(db)
  await db.insertInto('auth_user').values({
    password: djangoHash('djangsta-secret'),
    last_login: null,
    is_superuser: 0,
    username: 'django.pony',
    last_name: '',
    email: 'pony@example.com',
    is_staff: 0,
    is_active: 1,
    date_joined: '2015-06-01 12:00:00',
    first_name: ''
  }).execute()
  console.log('created auth_user with django.pony / djangsta-secret')
}

// Not openDatabase: it would switch Django's file to WAL for good. Django's commits are short: wait up to 1 s
// for one rather than answer 503 (better-sqlite3 waits synchronously: the process waits with it).
mkdirSync(dirname(file), { recursive: true })
const sqlite = new Database(file)
sqlite.pragma('busy_timeout = 1000')
const db = new Kysely<AppDatabase>({ dialect: new SqliteDialect({ database: sqlite }) })
await seed(db)
const { app, publicClientId } = await buildExistingUsersApp(db, {
  upgradeHashes: process.env.UPGRADE_HASHES === '1',
  pbkdf2Iterations: Number(process.env.PBKDF2_ITERATIONS ?? 600_000)
}, {
  logger: { level: process.env.LOG_LEVEL ?? 'info' }
})
app.addHook('onClose', async () => { await db.destroy() })
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void app.close() })
}
await app.listen({ port, host })
console.log(`public client_id: ${publicClientId}`)
