/**
 * Recipe: bring your own users. The app already has a users table, here the `auth_user` table a Django app
 * left behind (or still shares), with Django's password hashes. It keeps that table: the plugin asks the
 * app for users through the `users` option, and keeps only its clients and tokens, in its own `oauth2_*`
 * tables of the same SQLite file.
 *
 * - Logging in reads `auth_user` through the library's `djangoUsers` and verifies Django's hashes; nothing
 *   is written there unless the app opts in to `upgradeHashes` (in a format Django reads: see its options).
 * - `request.user` is what `findById` selects: id, username and email; never the password hash.
 * - Inactive users (`is_active = 0`) cannot log in, and their tokens stop working, as in Django.
 * - Sign-up inserts a Django-shaped row with Django's next integer id and a `pbkdf2_sha256` hash.
 *
 * `existing-users-server.ts` runs it; `test/existing-users.test.ts` drives it with `inject`.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Generated, Kysely } from 'kysely'
import oauth2, { createClient, djangoUsers, KyselyStore, type DjangoUser, type DjangoUsersOptions } from '../lib/index.js'

/** Django 3.2's `auth_user` on SQLite, as its migrations create it. */
export const AUTH_USER_DDL = 'CREATE TABLE "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, ' +
  '"password" varchar(128) NOT NULL, "last_login" datetime NULL, "is_superuser" bool NOT NULL, ' +
  '"username" varchar(150) NOT NULL UNIQUE, "last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, ' +
  '"is_staff" bool NOT NULL, "is_active" bool NOT NULL, "date_joined" datetime NOT NULL, "first_name" varchar(150) NOT NULL)'

/** The app's own table, typed for its Kysely queries. */
export interface AuthUserTable {
  id: Generated<number>
  password: string
  last_login: string | null
  is_superuser: number
  username: string
  last_name: string
  email: string
  is_staff: number
  is_active: number
  date_joined: string
  first_name: string
}

export interface AppDatabase {
  auth_user: AuthUserTable
}

/** The user as the app's routes see it on `request.user` (`djangoUsers` returns id, username and email). */
export type ExistingUser = DjangoUser

export interface ExistingUsersApp {
  app: FastifyInstance
  store: KyselyStore
  /** The `client_id` of the public client (created now, or found in the store). */
  publicClientId: string
}

/**
 * The app: its Kysely instance (which it owns, on the SQLite file holding `auth_user`), the plugin's store
 * on the same instance (its own `oauth2_*` tables, migrated here), the plugin with `users`, a guarded
 * `GET /me`, and a public client created when the store has none.
 */
export async function buildExistingUsersApp (
  db: Kysely<AppDatabase>,
  options: DjangoUsersOptions = {},
  fastifyOptions: FastifyServerOptions = {}
): Promise<ExistingUsersApp> {
  const store = new KyselyStore({ db })
  await store.migrate()
  const app = Fastify(fastifyOptions)
  await app.register(oauth2, { store, users: djangoUsers(db, options) })

  // request.user is the ExistingUser findById returned (declare its shape once to have it typed).
  // DOT clients call `/me/`; both spellings answer.
  for (const url of ['/me', '/me/']) app.get(url, { onRequest: app.oauth2.authenticate() }, async (request) => request.user)

  const existing = (await store.listClients()).find((c) => c.type === 'public' && c.grants.includes('password'))
  const publicClientId = existing?.id ?? (await createClient(store, { name: 'existing-users example', type: 'public' })).client.id
  return { app, store, publicClientId }
}
