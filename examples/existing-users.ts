/**
 * Recipe: bring your own users. The app already has a users table, here the `auth_user` table a Django app
 * left behind (or still shares), with Django's password hashes. It keeps that table: the plugin asks the
 * app for users through the `users` option, and keeps only its clients and tokens, in its own `oauth2_*`
 * tables of the same SQLite file.
 *
 * - Logging in reads `auth_user` and verifies Django's `pbkdf2_sha256$…` hashes; nothing is written there
 *   unless the app opts in to `upgradeHashes`, which stores an argon2id hash on the next successful login,
 *   in Django's own argon2 format (`argon2$argon2id$…`) so a Django app on the same table still reads it.
 * - `request.user` is what `findById` selects: id, username and email; never the password hash.
 * - Inactive users (`is_active = 0`) cannot log in, and their tokens stop working, as in Django.
 * - Sign-up inserts a Django-shaped row (through `users.create`).
 *
 * `existing-users-server.ts` runs it; `test/existing-users.test.ts` drives it with `inject`.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Generated, Kysely } from 'kysely'
import oauth2, { createClient, KyselyStore, type UserSource } from '../lib/index.js'

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

/** The user as the app's routes see it on `request.user`. */
export interface ExistingUser {
  id: string
  username: string
  email: string
}

/** The user as a login sees it: with the stored hash, which never reaches `request.user`. */
interface LoginUser extends ExistingUser {
  passwordHash: string
}

export interface ExistingUsersOptions {
  /**
   * Store an argon2id hash in `auth_user.password` at the next successful login of a user whose hash is
   * anything else. Default `false`: the plugin never writes to the app's table at login.
   */
  upgradeHashes?: boolean
}

/** Django's `Argon2PasswordHasher` writes its name before the PHC string. */
const DJANGO_ARGON2 = 'argon2'
/** Django's ids are integers; the plugin's are strings. */
const INTEGER_ID = /^[1-9][0-9]{0,15}$/

/** The `users` option over Django's `auth_user` table. */
export function djangoUsers (db: Kysely<AppDatabase>, options: ExistingUsersOptions = {}): UserSource<ExistingUser, LoginUser> {
  const upgradeHashes = options.upgradeHashes === true
  return {
    async findByUsername (username) {
      // Django compares usernames exactly (case-sensitive), and refuses inactive users.
      const row = await db.selectFrom('auth_user')
        .select(['id', 'username', 'email', 'password'])
        .where('username', '=', username)
        .where('is_active', '=', 1)
        .executeTakeFirst()
      return row === undefined ? null : { id: String(row.id), username: row.username, email: row.email, passwordHash: row.password }
    },

    async findById (id) {
      if (!INTEGER_ID.test(id)) return null
      const row = await db.selectFrom('auth_user')
        .select(['id', 'username', 'email'])
        .where('id', '=', Number(id))
        .where('is_active', '=', 1)
        .executeTakeFirst()
      return row === undefined ? null : { id: String(row.id), username: row.username, email: row.email }
    },

    async verifyPassword (user, password, passwords) {
      // The plugin reads Django's pbkdf2_sha256 and argon2 hashes, through its bounded hashing queue.
      if (!await passwords.verify(user.passwordHash, password)) return false
      const phc = user.passwordHash.startsWith(`${DJANGO_ARGON2}$`) ? user.passwordHash.slice(DJANGO_ARGON2.length) : user.passwordHash
      return upgradeHashes && passwords.needsRehash(phc) ? 'rehash' : true
    },

    async updatePasswordHash (user, passwordHash) {
      await db.updateTable('auth_user')
        .set({ password: DJANGO_ARGON2 + passwordHash })
        .where('id', '=', Number(user.id))
        .execute()
    },

    async create ({ username, password }, passwords) {
      const row = await db.insertInto('auth_user')
        .values({
          password: DJANGO_ARGON2 + await passwords.hash(password),
          last_login: null,
          is_superuser: 0,
          username,
          last_name: '',
          email: '',
          is_staff: 0,
          is_active: 1,
          date_joined: new Date().toISOString().replace('T', ' ').replace('Z', ''),
          first_name: ''
        })
        .onConflict((oc) => oc.column('username').doNothing())
        .returning(['id', 'username'])
        .executeTakeFirst()
      return row === undefined ? null : { id: String(row.id), username: row.username }
    }
  }
}

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
  options: ExistingUsersOptions = {},
  fastifyOptions: FastifyServerOptions = {}
): Promise<ExistingUsersApp> {
  const store = new KyselyStore({ db })
  await store.migrate()
  const app = Fastify(fastifyOptions)
  await app.register(oauth2, { store, users: djangoUsers(db, options) })

  // request.user is the ExistingUser findById returned (declare its shape once to have it typed).
  app.get('/me', { onRequest: app.oauth2.authenticate() }, async (request) => request.user)

  const existing = (await store.listClients()).find((c) => c.type === 'public' && c.grants.includes('password'))
  const publicClientId = existing?.id ?? (await createClient(store, { name: 'existing-users example', type: 'public' })).client.id
  return { app, store, publicClientId }
}
