/**
 * The storage contract of fastify-oauth2-server.
 *
 * A store keeps users, clients and tokens. It never sees a plaintext password, token or client secret:
 * the plugin hashes them first. Times are milliseconds since the epoch, passed in by the caller (the
 * plugin's clock), so a store never reads the wall clock itself.
 *
 * Every method is async and every operation the protocol needs to be atomic is one method here, so a
 * store built on a database can do it in one statement or one transaction. Returned records are copies:
 * mutating one never changes what the store holds.
 */

/** Grant types a client may be allowed. */
export type GrantType = 'password' | 'refresh_token' | 'client_credentials' | 'authorization_code'

/** How a client authenticates: `public` clients send only their id, `confidential` ones a secret too. */
export type ClientType = 'public' | 'confidential'

/** A user as the store holds it. */
export interface UserRecord {
  /** Opaque, stable id (a UUID for the bundled stores). */
  id: string
  /** The username as signed up, NFKC-normalized. */
  username: string
  /** The uniqueness key: the NFKC-normalized username, lower-cased. */
  usernameKey: string
  /** A PHC-format password hash (argon2id for users created by this library). */
  passwordHash: string
  createdAt: number
}

/** What `createUser` inserts. */
export type NewUser = UserRecord

/** A client application (an SPA, a mobile app, a back-end service). */
export interface ClientRecord {
  /** The public `client_id`. */
  id: string
  name: string
  type: ClientType
  /** SHA-256 (hex) of the client secret; `null` for public clients. */
  secretHash: string | null
  /** Grant types this client may use. */
  grants: GrantType[]
  /** Scopes this client may ask for; empty means every configured scope. */
  scopes: string[]
  /** Redirection URIs registered for the authorization code grant (RFC 6749 §3.1.2), matched exactly. */
  redirectUris: string[]
  /** Whether the user is asked to approve the client (third-party clients); first-party clients skip it. */
  requireConsent: boolean
  /**
   * Whether the token endpoint hands this (browser) client its refresh token in an HttpOnly cookie instead
   * of the JSON body, and takes its token requests only from `origins`, as JSON.
   */
  refreshCookie: boolean
  /** The web origins (`https://host[:port]`) of a browser client, matched exactly; CORS is allowed for them. */
  origins: string[]
  createdAt: number
}

/**
 * One issued access token and its refresh token (if any). A login starts a family; each refresh retires
 * the presented record (`rotatedAt`) and adds its successor to the same family.
 */
export interface TokenRecord {
  id: string
  /** The id of the family (the login session) this record belongs to. */
  familyId: string
  /** The record whose refresh token was exchanged for this one; `null` for the first of a family. */
  parentId: string | null
  clientId: string
  /** `null` for client-credentials tokens. */
  userId: string | null
  scopes: string[]
  /** SHA-256 (hex) of the access token. */
  accessTokenHash: string
  /** SHA-256 (hex) of the refresh token; `null` when none was issued. */
  refreshTokenHash: string | null
  accessExpiresAt: number
  /** `null` when no refresh token was issued. */
  refreshExpiresAt: number | null
  createdAt: number
  /** When the refresh token was exchanged; a rotated record's access and refresh tokens are dead. */
  rotatedAt: number | null
  /** When the record was revoked (logout, reuse detection, revocation endpoint). */
  revokedAt: number | null
}

/** What `createToken` and `rotateRefreshToken` insert. */
export type NewToken = Omit<TokenRecord, 'rotatedAt' | 'revokedAt'>

/**
 * An access token as the bearer check and introspection see it: its record without the refresh half and
 * without the hashes (the caller has the access hash; the refresh hash is no business of a bearer check).
 */
export type AccessTokenRecord = Omit<TokenRecord, 'parentId' | 'accessTokenHash' | 'refreshTokenHash' | 'refreshExpiresAt'>

/** The user of an access token as the bearer check needs it: no password hash on the per-request path. */
export interface TokenUser {
  id: string
  username: string
}

/**
 * The result of the per-request bearer check: the token and the user it was issued to, exactly these
 * fields (a store reads no other column for it).
 */
export interface AccessTokenLookup {
  token: AccessTokenRecord
  /** `null` for client-credentials tokens, or when the user has been deleted. */
  user: TokenUser | null
}

/** How often a rotated refresh token may still be exchanged: see `OAuth2Store.rotateRefreshToken`. */
export interface RefreshReuse {
  /** A record rotated at or before this time (ms) is exchanged no more. */
  since: number
  /** Most exchanges of one record in all, the first (its rotation) included. */
  maxExchanges: number
}

/** What a revocation ended: one token record, a family, everything of a user or of a client. */
export type RevocationKind = 'token' | 'family' | 'user' | 'client'

/**
 * A revocation made somewhere (another server instance, the CLI), as `watchRevocations` reports it; `all`
 * when some may have been missed and everything cached must be dropped.
 */
export type RevocationEvent = { kind: RevocationKind, id: string } | { kind: 'all' }

/** A throttle counter: how many hits its window has seen, and when the window ends. */
export interface ThrottleState {
  count: number
  /** When the window ends and the counter starts again from zero (milliseconds). */
  resetAt: number
}

/**
 * An authorization code (RFC 6749 §4.1.2) as the store holds it: its hash, what it is bound to, and what
 * became of it. A code is exchanged once; presented again, it ends the token family it was exchanged for.
 */
export interface AuthorizationCodeRecord {
  /** SHA-256 (hex) of the code. */
  codeHash: string
  clientId: string
  userId: string
  /** The redirection URI the code was sent to: the token request must name the same. */
  redirectUri: string
  scopes: string[]
  /** The PKCE challenge (RFC 7636 §4.2, method S256): base64url of the SHA-256 of the verifier. */
  codeChallenge: string
  createdAt: number
  expiresAt: number
  /** When it was exchanged; `null` until then. */
  usedAt: number | null
  /** The family of the tokens it was exchanged for; `null` until then. */
  familyId: string | null
}

/** What `createAuthorizationCode` inserts. */
export type NewAuthorizationCode = Omit<AuthorizationCodeRecord, 'usedAt' | 'familyId'>

/** A user's session at the authorization server (the login page's cookie). */
export interface SessionRecord {
  /** SHA-256 (hex) of the session id, the cookie's value. */
  idHash: string
  userId: string
  createdAt: number
  expiresAt: number
}

/** The storage interface the plugin delegates to. `MemoryStore` and `KyselyStore` implement it. */
export interface OAuth2Store {
  /**
   * Inserts the user unless one with the same `usernameKey` exists. Returns the new user, or `null` when
   * the name was taken. Must be atomic: of concurrent calls with one key exactly one creates.
   */
  createUser(user: NewUser): Promise<UserRecord | null>

  /** Finds a user by `usernameKey`. */
  findUserByUsernameKey(usernameKey: string): Promise<UserRecord | null>

  /** Finds a user by id. */
  findUserById(id: string): Promise<UserRecord | null>

  /** Replaces a user's password hash (re-hashing on login, password change). Returns false if no such user. */
  updatePasswordHash(userId: string, passwordHash: string): Promise<boolean>

  /** Inserts a client. Rejects if the id exists. */
  createClient(client: ClientRecord): Promise<void>

  /** Finds a client by its `client_id`. */
  findClient(id: string): Promise<ClientRecord | null>

  /** Lists every client, oldest first. */
  listClients(): Promise<ClientRecord[]>

  /** Deletes a client and every token issued to it. Returns false if no such client. */
  deleteClient(id: string): Promise<boolean>

  /** Replaces a confidential client's secret hash. Returns false if no such client. */
  updateClientSecret(id: string, secretHash: string): Promise<boolean>

  /** Inserts a token record (a login, or a client-credentials grant). */
  createToken(token: NewToken): Promise<void>

  /**
   * The per-request bearer check: the record whose access token hashes to `accessTokenHash`, with its
   * user, whatever its state (the caller checks expiry, rotation and revocation). One indexed lookup.
   */
  findByAccessTokenHash(accessTokenHash: string): Promise<AccessTokenLookup | null>

  /** The record whose refresh token hashes to `refreshTokenHash`, whatever its state. */
  findByRefreshTokenHash(refreshTokenHash: string): Promise<TokenRecord | null>

  /**
   * The refresh-token exchange, a compare-and-swap: if record `currentId` is not revoked and either has not
   * been exchanged yet, or was rotated after `reuse.since` and has been exchanged fewer than
   * `reuse.maxExchanges` times, counts one exchange of it (marking it rotated at `now` the first time) and
   * inserts `next`, atomically, and returns true. Otherwise changes nothing and returns false. Of
   * concurrent calls for one unexchanged record exactly one returns true, and never more than
   * `reuse.maxExchanges` in all.
   */
  rotateRefreshToken(currentId: string, next: NewToken, now: number, reuse: RefreshReuse): Promise<boolean>

  /** Marks one record revoked (if it is not already). Returns false if no such record. */
  revokeToken(id: string, now: number): Promise<boolean>

  /** Marks every record of a family revoked. Returns how many records changed. */
  revokeFamily(familyId: string, now: number): Promise<number>

  /** Marks every record issued to a client revoked (its secret leaked). Returns how many records changed. */
  revokeClientTokens(clientId: string, now: number): Promise<number>

  /** Marks every record of a user revoked ("log out everywhere"). Returns how many records changed. */
  revokeUserTokens(userId: string, now: number): Promise<number>

  /**
   * Deletes up to `limit` records that can no longer be used: those whose access token and refresh token
   * (if any) both expired before `now`. Rotated and revoked records are kept until then, because reuse
   * detection needs them to recognise a replayed refresh token. Returns how many were deleted.
   */
  deleteExpiredTokens(now: number, limit: number): Promise<number>

  /**
   * Adds `by` to the counter of a throttle key (an opaque hash made by the plugin) and returns the counter
   * after it: `1` counts a hit, `-1` takes one back, and a count never goes below 0. A key with no counter,
   * or whose window ended at or before `now`, starts a new window of `windowMs` with a count of `max(by, 0)`.
   * Must be atomic, one step: of concurrent calls none is lost, and each returns a different count (the
   * throttle refuses an attempt by the count it gets back, before any password is checked).
   */
  hitThrottle(key: string, windowMs: number, now: number, by?: 1 | -1): Promise<ThrottleState>

  /** The counter of a throttle key, or `null` when it has none or its window has ended at or before `now`. */
  getThrottle(key: string, now: number): Promise<ThrottleState | null>

  /** Forgets a throttle key (a successful login clears its failures). */
  clearThrottle(key: string): Promise<void>

  /** Deletes up to `limit` throttle counters whose window ended before `now`. Returns how many. */
  deleteExpiredThrottles(now: number, limit: number): Promise<number>

  /** Inserts an authorization code. Rejects if its hash exists. */
  createAuthorizationCode(code: NewAuthorizationCode): Promise<void>

  /** The code whose hash is `codeHash`, whatever its state (the caller checks expiry, use and bindings). */
  findAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | null>

  /**
   * The code's single use, a compare-and-swap: if the code exists, has not been used and expires after
   * `now`, marks it used at `now` by the family of `token`, inserts `token`, atomically, and returns true.
   * Otherwise changes nothing and returns false. Of concurrent calls for one code exactly one returns true.
   */
  redeemAuthorizationCode(codeHash: string, token: NewToken, now: number): Promise<boolean>

  /** Inserts a session. Rejects if its hash exists. */
  createSession(session: SessionRecord): Promise<void>

  /** The session whose id hashes to `idHash`, whatever its expiry. */
  findSession(idHash: string): Promise<SessionRecord | null>

  /** Deletes a session (logout). Returns false if there was none. */
  deleteSession(idHash: string): Promise<boolean>

  /**
   * Ends a user's logins at the authorization server ("log out everywhere"): deletes every session of the
   * user and every authorization code issued to them and not yet redeemed, atomically. Returns how many it
   * deleted. The authorization endpoint stores a code, then calls `findSession` again: a `findSession` that
   * ends after this call has begun must not find the user's sessions unless every code stored before that
   * read is deleted too (a lock, one writer at a time, or one synchronous step as MemoryStore does).
   */
  deleteUserSessions(userId: string): Promise<number>

  /**
   * Deletes up to `limit` authorization codes and sessions (codes first) that expired before `now`.
   * Returns how many were deleted.
   */
  deleteExpiredCodesAndSessions(now: number, limit: number): Promise<number>

  /**
   * Optional, for stores shared by several processes: calls `listener` with every revocation and rotation
   * made through any store on the same database (other server instances, the CLI), within milliseconds,
   * and with `{ kind: 'all' }` whenever some may have been missed (the listening connection dropped). The
   * plugin's `tokenCache` drops what it names. Resolves once listening, to a function that stops it.
   */
  watchRevocations?(listener: (event: RevocationEvent) => void): Promise<() => Promise<void>>
}
