import { randomBytes, randomUUID } from 'node:crypto'
import { createClient, type CreatedClient, type NewClientOptions } from '../clients.js'
import { PasswordHasher } from '../crypto/passwords.js'
import type { OAuth2Error } from '../errors.js'
import { MAX_USERNAME_LENGTH } from '../options.js'
import type { OAuth2Store, UserRecord } from '../store/store.js'
import { normalizeUsername, type NormalizedUsername } from '../users.js'
import { testHashing } from './hashing.js'

/** What `createTestUser` needs. */
export interface TestUserOptions {
  /** NFKC-normalized and checked as at sign-up. */
  username: string
  /**
   * The password, hashed with `testHashing` (cheap argon2id). Default: none, and the user has an unusable
   * password (as Django's `set_unusable_password`): no password logs in, `authenticateAs` still does.
   */
  password?: string
  /** Default: a new UUID. */
  id?: string
}

// Tests may hash many passwords at once: no queue worth the name, and libuv's pool bounds the threads.
const hasher = new PasswordHasher({ concurrency: 64, maxQueue: Number.MAX_SAFE_INTEGER, retryAfter: 0 }, testHashing.argon2)

/** Checks a username as sign-up does; a refusal is a `TypeError` naming the caller. */
export function checkedUsername (caller: string, username: string, maxLength = MAX_USERNAME_LENGTH): NormalizedUsername {
  try {
    return normalizeUsername(username, maxLength)
  } catch (err) {
    throw new TypeError(`${caller}: ${(err as OAuth2Error).message}`)
  }
}

/** A user record with a hash that no password matches: `!` is never the start of a hash we can verify. */
export function passwordlessUser (name: NormalizedUsername, createdAt: number, id: string = randomUUID()): UserRecord {
  return { id, ...name, passwordHash: `!${randomBytes(16).toString('base64url')}`, createdAt }
}

/**
 * Adds a user to a store (a `MemoryStore`, say) for tests that log in through `/o/token/`, without a trip
 * through `/sign_up/`. The password is hashed cheaply (`testHashing`): register the plugin with
 * `testHashing` too, or its first login re-hashes the password at the production parameters. Throws a
 * `TypeError` when the username is refused or taken.
 */
export async function createTestUser (store: OAuth2Store, options: TestUserOptions): Promise<UserRecord> {
  const name = checkedUsername('createTestUser', options.username)
  const record = passwordlessUser(name, Date.now(), options.id)
  if (options.password !== undefined) record.passwordHash = await hasher.hash(options.password)
  const user = await store.createUser(record)
  if (user === null) throw new TypeError(`createTestUser: the username "${name.username}" is taken`)
  return user
}

/**
 * Adds a client to a store: `createClient` with test defaults, a public client named `test client`
 * allowed `password` and `refresh_token`. Override any of them (`{ type: 'confidential' }` gives a secret).
 */
export async function createTestClient (store: OAuth2Store, options: Partial<NewClientOptions> = {}): Promise<CreatedClient> {
  return await createClient(store, { name: 'test client', type: 'public', ...options })
}
