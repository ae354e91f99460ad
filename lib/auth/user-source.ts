/**
 * Bring your own users: the contract an app implements (the `users` option) to keep its own users table,
 * with its own password hashes, while clients and tokens stay in the plugin's store.
 */

/**
 * The least a user of the app must have. Ids are strings: an app whose ids are numbers converts them,
 * `String(row.id)` when returning a user and `Number(id)` when looking one up.
 */
export interface AppUser {
  id: string
  username: string
}

/**
 * What `verifyPassword` answers: `true` (right password), `false` (wrong), or `'rehash'`: right, and the
 * app wants the plugin to hash the password anew (argon2id) and hand it to `updatePasswordHash`.
 */
export type PasswordVerdict = boolean | 'rehash'

/**
 * The plugin's password hashing, handed to the app's `verifyPassword` and `create`: off the event loop and
 * through the same bounded queue as the plugin's own (503 with `Retry-After` when full).
 */
export interface PasswordTools {
  /** An argon2id hash of the password, with the plugin's pinned parameters (a PHC string). */
  hash(password: string): Promise<string>
  /**
   * Verifies a password against an argon2 PHC string or a Django `pbkdf2_sha256$…` hash; anything else,
   * or a malformed hash, verifies as false.
   */
  verify(passwordHash: string, password: string): Promise<boolean>
  /** Whether a hash is anything but argon2id with the plugin's current parameters. */
  needsRehash(passwordHash: string): boolean
}

/** What sign-up hands to `create`: the username NFKC-normalized and checked, the password checked by the policy. */
export interface NewAppUser {
  username: string
  /** The plaintext password: hash it (`passwords.hash`, or your own hasher) and never store or log it. */
  password: string
}

/**
 * The app's own users, for the `users` option. The plugin calls these instead of its store's user methods;
 * everything else (clients, tokens) stays in the store. Tokens keep the user's id, so ids must be stable.
 * A method that throws or rejects fails the request with a 503 (`temporarily_unavailable`), logged.
 *
 * `U` is the user as routes see it (`request.user`); `L` the user as a login sees it, which may carry the
 * password hash (by default the same type).
 */
export interface UserSource<U extends AppUser = AppUser, L extends AppUser = U> {
  /**
   * The user logging in with this username (as the client sent it, not normalized: compare the way your
   * app does), or `null`. Its result only reaches `verifyPassword` and `updatePasswordHash`, so it may
   * carry the password hash. Usernames longer than the `usernameMaxLength` option are never looked up.
   */
  findByUsername(username: string): Promise<L | null>
  /**
   * The user with this id, or `null` when it no longer exists (its tokens then stop working). Called on
   * every request a guard accepts, and at each refresh: make it one indexed lookup. What it returns becomes
   * `request.user` as is (the plugin copies and strips nothing): select only what routes may see, never the
   * password hash.
   */
  findById(id: string): Promise<U | null>
  /**
   * Checks the password of a user `findByUsername` found. Answer `'rehash'` to have the plugin store a new
   * argon2id hash through `updatePasswordHash` (e.g. when `passwords.needsRehash(storedHash)`). When the user
   * is unknown the plugin spends a dummy argon2id verification instead, so keep this about as costly.
   */
  verifyPassword(user: L, password: string, passwords: PasswordTools): Promise<PasswordVerdict>
  /**
   * Creates a user at sign-up and resolves to it (only its `id` and `username` are answered), or to `null`
   * when the username is taken (answered 400, as when `findByUsername` finds the name first). Optional:
   * without it, sign-up is off, and setting `routes.signUp` to a path fails registration.
   */
  create?(user: NewAppUser, passwords: PasswordTools): Promise<AppUser | null>
  /**
   * Stores a new argon2id hash after `verifyPassword` answered `'rehash'`. Optional: without it, `'rehash'`
   * counts as `true` and nothing is written.
   */
  updatePasswordHash?(user: L, passwordHash: string): Promise<void>
}

const REQUIRED = ['findByUsername', 'findById', 'verifyPassword'] as const
const OPTIONAL = ['create', 'updatePasswordHash'] as const

/**
 * Checks the `users` option: `null` when absent; otherwise it must have the required functions, and the
 * optional ones must be functions when present. `fail` throws naming the option (e.g. `users.findById`).
 */
export function validateUserSource (value: unknown, fail: (option: string, expected: string) => never): UserSource | null {
  if (value === undefined) return null
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('users', 'an object with findByUsername, findById and verifyPassword functions')
  }
  const source = value as Record<string, unknown>
  for (const method of REQUIRED) {
    if (typeof source[method] !== 'function') fail(`users.${method}`, 'a function')
  }
  for (const method of OPTIONAL) {
    if (source[method] !== undefined && typeof source[method] !== 'function') fail(`users.${method}`, 'a function when given')
  }
  return value as UserSource
}
