import { randomUUID } from 'node:crypto'
import { argon2PhcString, parseDjangoPbkdf2Hash } from './crypto/django-hashes.js'
import type { OAuth2Error } from './errors.js'
import { MAX_USERNAME_LENGTH } from './options.js'
import type { OAuth2Store, UserRecord } from './store/store.js'
import { normalizeUsername } from './users.js'

/** A user moved over from another system, with the password hash that system made. */
export interface ImportedUser {
  /** The username; NFKC-normalized here, and unique case-insensitively in the store. */
  username: string
  /**
   * The stored hash, as the other system wrote it: Django's `pbkdf2_sha256$…` or `argon2$argon2id$…`, or an
   * argon2 PHC string (`$argon2id$…`). The first successful login re-hashes it to the plugin's argon2id.
   */
  passwordHash: string
  /** The user's id; a number is turned into its decimal string. Default: a new UUID. */
  id?: string | number
  /** When the user was created, in milliseconds. Default now. */
  createdAt?: number
}

const ARGON2_PHC = /^\$argon2(id|i|d)\$/

/** Whether the plugin can verify a password against this stored hash (what `importUser` accepts). */
export function isReadableHash (passwordHash: unknown): passwordHash is string {
  return typeof passwordHash === 'string' &&
    (parseDjangoPbkdf2Hash(passwordHash) !== null || ARGON2_PHC.test(argon2PhcString(passwordHash)))
}

/**
 * Adds a user from another system (a Django `auth_user` row, say) to a store, keeping its password hash so
 * the user logs in with the same password. Resolves to the new user, or `null` when the username is taken
 * (case-insensitively: Django's `Pony` and `pony` are two users, here they cannot be). Throws a `TypeError`
 * for a username the plugin would refuse at sign-up or a hash it cannot verify (never showing the hash).
 */
export async function importUser (store: OAuth2Store, user: ImportedUser): Promise<UserRecord | null> {
  let name
  try {
    name = normalizeUsername(String(user.username), MAX_USERNAME_LENGTH)
  } catch (err) {
    throw new TypeError(`importUser: ${(err as OAuth2Error).message}`)
  }
  const { passwordHash } = user
  if (!isReadableHash(passwordHash)) {
    throw new TypeError(`importUser: the password hash of "${name.username}" is neither Django's pbkdf2_sha256 or argon2 nor an argon2 PHC string`)
  }
  return await store.createUser({
    id: user.id === undefined ? randomUUID() : String(user.id),
    username: name.username,
    usernameKey: name.usernameKey,
    passwordHash,
    createdAt: user.createdAt ?? Date.now()
  })
}
