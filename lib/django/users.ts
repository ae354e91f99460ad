/**
 * `djangoUsers`: the `users` option over Django's own `auth_user` table, for an app that keeps it (and may
 * keep a Django app running on it during the move). Safe by default: it never rewrites a hash at login,
 * and what it writes at sign-up is a hash every Django reads.
 */
import { sql, type Kysely, type SqlBool } from 'kysely'
import {
  argon2PhcString,
  DJANGO_ARGON2_PREFIX,
  DJANGO_PBKDF2_MAX_ITERATIONS,
  hashDjangoPbkdf2,
  parseDjangoPbkdf2Hash
} from '../crypto/django-hashes.js'
import type { UserSource } from '../auth/user-source.js'

/** The user on `request.user`: Django's id (as a string), username and email; never the hash. */
export interface DjangoUser {
  id: string
  username: string
  email: string
}

/** The user as a login sees it: with the stored hash, which never reaches `request.user`. */
export interface DjangoLoginUser extends DjangoUser {
  passwordHash: string
}

/** Options of `djangoUsers`. */
export interface DjangoUsersOptions {
  /** The users table: `auth_user` (the default), or a custom user model's table with the same columns. */
  table?: string
  /**
   * What sign-up (and an upgrade) writes. `'pbkdf2_sha256'` (the default): Django's default hasher, which
   * every Django reads. `'argon2'`: Django's `Argon2PasswordHasher` format (`argon2$argon2id$…`), only when
   * every Django reading the table has `argon2-cffi` installed (without it Django answers 500).
   */
  hashFormat?: 'pbkdf2_sha256' | 'argon2'
  /**
   * PBKDF2 iterations for what is written as `pbkdf2_sha256`: set it to your Django's
   * `PBKDF2PasswordHasher.iterations` (260 000 in 3.2, 600 000 in 4.2, 720 000 in 5.0, 870 000 in 5.1, 1 000 000 in 5.2), since
   * Django re-hashes at login any hash whose count differs from its own. Default 600 000 (Django 4.2, OWASP's
   * figure for PBKDF2-HMAC-SHA256).
   */
  pbkdf2Iterations?: number
  /**
   * Rewrite a user's hash at a successful login when it is weaker than what `hashFormat` writes now (fewer
   * PBKDF2 iterations, or argon2 with other parameters). Default `false`: a login never writes to the table.
   * With a Django still running on the table, turn it on only with `pbkdf2Iterations` equal to Django's count,
   * or both sides rewrite each other's hashes forever.
   */
  upgradeHashes?: boolean
}

const TABLE = /^[a-z_][a-z0-9_]*$/i
/** Django's ids are integers; the plugin's are strings. */
const INTEGER_ID = /^[1-9][0-9]{0,15}$/
const DEFAULT_ITERATIONS = 600_000

/** Django's datetime in UTC with its offset: Django reads it on SQLite and PostgreSQL alike. */
function djangoNow (): string {
  return new Date().toISOString().replace('T', ' ').replace('Z', '+00:00')
}

/**
 * The `users` option over Django's `auth_user` (SQLite or PostgreSQL, through the app's Kysely instance):
 * usernames compared exactly (Django's are case-sensitive), inactive users refused, Django's hashes
 * verified, ids kept (`'42'` for Django's 42), sign-up inserting a Django-shaped row with an integer id.
 * Throws a `TypeError` naming a bad option.
 */
export function djangoUsers (db: Kysely<any>, options: DjangoUsersOptions = {}): UserSource<DjangoUser, DjangoLoginUser> {
  const { table = 'auth_user', hashFormat = 'pbkdf2_sha256', pbkdf2Iterations = DEFAULT_ITERATIONS, upgradeHashes = false } = options
  if (typeof table !== 'string' || !TABLE.test(table)) throw new TypeError(`djangoUsers: option "table" must match ${String(TABLE)}`)
  if (hashFormat !== 'pbkdf2_sha256' && hashFormat !== 'argon2') throw new TypeError('djangoUsers: option "hashFormat" must be "pbkdf2_sha256" or "argon2"')
  if (!Number.isSafeInteger(pbkdf2Iterations) || pbkdf2Iterations < 1 || pbkdf2Iterations > DJANGO_PBKDF2_MAX_ITERATIONS) {
    throw new TypeError(`djangoUsers: option "pbkdf2Iterations" must be an integer from 1 to ${DJANGO_PBKDF2_MAX_ITERATIONS}`)
  }
  // `= true` reads Django's booleans on both databases (SQLite stores 1).
  const active = sql<SqlBool>`${sql.ref('is_active')} = ${sql.lit(true)}`
  const setHash = async (id: string, password: string): Promise<void> => {
    await db.updateTable(table).set({ password }).where('id', '=', Number(id)).execute()
  }

  return {
    async findByUsername (username) {
      const row = await db.selectFrom(table).select(['id', 'username', 'email', 'password'])
        .where('username', '=', username).where(active).executeTakeFirst()
      return row === undefined ? null : { id: String(row.id), username: row.username, email: row.email, passwordHash: row.password }
    },

    async findById (id) {
      if (!INTEGER_ID.test(id)) return null
      const row = await db.selectFrom(table).select(['id', 'username', 'email'])
        .where('id', '=', Number(id)).where(active).executeTakeFirst()
      return row === undefined ? null : { id: String(row.id), username: row.username, email: row.email }
    },

    async verifyPassword (user, password, passwords) {
      if (!await passwords.verify(user.passwordHash, password)) return false
      if (!upgradeHashes) return true
      if (hashFormat === 'argon2') return passwords.needsRehash(argon2PhcString(user.passwordHash)) ? 'rehash' : true
      // updatePasswordHash gets an argon2id hash: a PBKDF2 upgrade is written here, where the password is.
      const pbkdf2 = parseDjangoPbkdf2Hash(user.passwordHash)
      if (pbkdf2 !== null && pbkdf2.iterations < pbkdf2Iterations) await setHash(user.id, await hashDjangoPbkdf2(password, pbkdf2Iterations))
      return true
    },

    async updatePasswordHash (user, passwordHash) {
      await setHash(user.id, DJANGO_ARGON2_PREFIX + passwordHash)
    },

    async create ({ username, password }, passwords) {
      const hash = hashFormat === 'argon2'
        ? DJANGO_ARGON2_PREFIX + await passwords.hash(password)
        : await hashDjangoPbkdf2(password, pbkdf2Iterations)
      const row = await db.insertInto(table)
        .values({
          password: hash,
          last_login: null,
          is_superuser: sql.lit(false),
          username,
          first_name: '',
          last_name: '',
          email: '',
          is_staff: sql.lit(false),
          is_active: sql.lit(true),
          date_joined: djangoNow()
        })
        .onConflict((oc) => oc.column('username').doNothing())
        .returning(['id', 'username'])
        .executeTakeFirst()
      return row === undefined ? null : { id: String(row.id), username: row.username }
    }
  }
}
