/**
 * Where the routes and the guard find users: the plugin's store, or the app's own `users` source. Each
 * route asks one question here and never needs to know which of the two answers.
 */
import { randomUUID } from 'node:crypto'
import type { PasswordHasher } from '../crypto/passwords.js'
import type { ResolvedOptions } from '../options.js'
import type { AccessTokenLookup, UserRecord } from '../store/store.js'
import type { OAuth2User } from '../types.js'
import { legacyUsernameKey, usernameKey, usernameLength, type NormalizedUsername } from '../users.js'
import type { AppUser, PasswordTools, UserSource } from './user-source.js'

/** What the token and sign-up routes need to know about users. */
export interface UserDirectory {
  /**
   * Checks a username and password and resolves to the user's id, or `null` for an unknown user or a wrong
   * password alike, at about the same cost (an unknown user still costs one argon2id verification).
   * Re-hashes the password to argon2id when the stored hash is outdated (or the app asks for it).
   */
  logIn(username: string, password: string): Promise<string | null>
  /** Whether the user with this id still exists. */
  exists(id: string): Promise<boolean>
  /** Creates a user at sign-up: its `{ id, username }`, or `null` when the username is taken. */
  signUp(name: NormalizedUsername, password: string): Promise<AppUser | null>
}

/** The user an access token belongs to, as `request.user` shows it; `null` for client tokens or a gone user. */
export type TokenUserResolver = (found: AccessTokenLookup) => OAuth2User | null | Promise<OAuth2User | null>

/** The directory of one plugin instance, on its store or on the app's `users` source. */
export function userDirectory (options: ResolvedOptions, hasher: PasswordHasher): UserDirectory {
  return options.users === null ? storeDirectory(options, hasher) : appDirectory(options.users, options, hasher)
}

/**
 * For the guard: with the store, the user joined to the token (its id and username only); with the app's
 * source, `users.findById(token.userId)`, whatever object the app returns.
 */
export function tokenUserResolver (options: ResolvedOptions): TokenUserResolver {
  const source = options.users
  // `{ id, username }` is the declared OAuth2User here: a richer declared type makes `users` required.
  if (source === null) return ({ user }) => user === null ? null : { id: user.id, username: user.username } as OAuth2User
  // The app's user type is its own; declaring `user` in OAuth2ServerTypes is how it tells TypeScript.
  return async ({ token }) => token.userId === null ? null : await source.findById(token.userId) as OAuth2User | null
}

function storeDirectory (options: ResolvedOptions, hasher: PasswordHasher): UserDirectory {
  const { store } = options

  /**
   * The user a login names. A row still under its pre-0.2 key (its folded key clashed with another user's
   * when the store was migrated) is found by that key first; every other row is found by the folded key.
   * Only names whose two keys differ (`ß`, a final `ς`, …) can cost the second lookup.
   */
  async function find (username: string): Promise<UserRecord | null> {
    if (usernameLength(username) > options.usernameMaxLength) return null
    const key = usernameKey(username)
    const legacy = legacyUsernameKey(username)
    return (legacy === key ? null : await store.findUserByUsernameKey(legacy)) ?? await store.findUserByUsernameKey(key)
  }

  return {
    async logIn (username, password) {
      const user = await find(username)
      // An unknown user is verified against a dummy hash: same answer, same time.
      const valid = await hasher.verify(user?.passwordHash ?? null, password)
      if (user === null || !valid) return null
      // Outdated argon2 parameters, or a hash imported from Django: upgrade it now that we know the password.
      if (hasher.needsRehash(user.passwordHash)) {
        await store.updatePasswordHash(user.id, await hasher.hash(password))
      }
      return user.id
    },

    async exists (id) {
      return await store.findUserById(id) !== null
    },

    async signUp ({ username, usernameKey }, password) {
      // A cheap early answer for a taken name; the insert below is what guarantees uniqueness.
      if (await store.findUserByUsernameKey(usernameKey) !== null) return null
      const passwordHash = await hasher.hash(password)
      return await store.createUser({ id: randomUUID(), username, usernameKey, passwordHash, createdAt: options.now() })
    }
  }
}

/** The app's own users: lookups and password checks are the app's; hashing goes through the plugin's queue. */
function appDirectory (source: UserSource, options: ResolvedOptions, hasher: PasswordHasher): UserDirectory {
  const passwords: PasswordTools = Object.freeze({
    hash: async (password: string) => await hasher.hash(password),
    verify: async (passwordHash: string, password: string) => await hasher.verify(passwordHash, password),
    needsRehash: (passwordHash: string) => hasher.needsRehash(passwordHash)
  })

  return {
    async logIn (username, password) {
      const user = usernameLength(username) > options.usernameMaxLength ? null : await source.findByUsername(username)
      if (user === null) {
        await hasher.verify(null, password)
        return null
      }
      const id = checkedId(user, 'findByUsername')
      const verdict = await source.verifyPassword(user, password, passwords)
      if (verdict !== true && verdict !== 'rehash') return null
      if (verdict === 'rehash' && source.updatePasswordHash !== undefined) {
        await source.updatePasswordHash(user, await hasher.hash(password))
      }
      return id
    },

    async exists (id) {
      return await source.findById(id) !== null
    },

    async signUp ({ username }, password) {
      // Validated at registration: sign-up is off without `create`.
      const create = source.create as NonNullable<UserSource['create']>
      if (await source.findByUsername(username) !== null) return null
      const user = await create.call(source, { username, password }, passwords)
      if (user === null) return null
      return { id: checkedId(user, 'create'), username: user.username }
    }
  }
}

/** Tokens store the user's id as text: a number here is a programmer error, named loudly. */
function checkedId (user: AppUser, method: string): string {
  if (typeof user.id !== 'string') {
    throw new TypeError(`fastify-oauth2-server: users.${method}() returned a user whose id is a ${typeof user.id}, not a string; convert it (String(row.id))`)
  }
  return user.id
}
