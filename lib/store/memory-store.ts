import type {
  AccessTokenLookup,
  AuthorizationCodeRecord,
  ClientRecord,
  NewAuthorizationCode,
  NewToken,
  NewUser,
  OAuth2Store,
  RefreshReuse,
  SessionRecord,
  ThrottleState,
  TokenRecord,
  UserRecord
} from './store.js'

/**
 * A complete store in process memory, for unit tests and demos. State lives in the instance: two
 * instances share nothing, and everything is lost when the process ends. Each method runs without an
 * `await` in its critical section, which makes it atomic on Node's single thread.
 */
export class MemoryStore implements OAuth2Store {
  readonly #users = new Map<string, UserRecord>()
  readonly #userIdByKey = new Map<string, string>()
  readonly #clients = new Map<string, ClientRecord>()
  readonly #tokens = new Map<string, TokenRecord>()
  readonly #tokenIdByAccessHash = new Map<string, string>()
  readonly #tokenIdByRefreshHash = new Map<string, string>()
  readonly #throttles = new Map<string, ThrottleState>()
  /** How many times each exchanged refresh token has been exchanged. */
  readonly #exchanges = new Map<string, number>()
  readonly #codes = new Map<string, AuthorizationCodeRecord>()
  readonly #sessions = new Map<string, SessionRecord>()

  async createUser (user: NewUser): Promise<UserRecord | null> {
    if (this.#userIdByKey.has(user.usernameKey)) return null
    const record = { ...user }
    this.#users.set(record.id, record)
    this.#userIdByKey.set(record.usernameKey, record.id)
    return { ...record }
  }

  async findUserByUsernameKey (usernameKey: string): Promise<UserRecord | null> {
    const id = this.#userIdByKey.get(usernameKey)
    return id === undefined ? null : this.#copyUser(id)
  }

  async findUserById (id: string): Promise<UserRecord | null> {
    return this.#copyUser(id)
  }

  async updatePasswordHash (userId: string, passwordHash: string): Promise<boolean> {
    const user = this.#users.get(userId)
    if (user === undefined) return false
    user.passwordHash = passwordHash
    return true
  }

  async createClient (client: ClientRecord): Promise<void> {
    if (this.#clients.has(client.id)) throw new Error(`client ${client.id} already exists`)
    this.#clients.set(client.id, copyClient(client))
  }

  async findClient (id: string): Promise<ClientRecord | null> {
    const client = this.#clients.get(id)
    return client === undefined ? null : copyClient(client)
  }

  async listClients (): Promise<ClientRecord[]> {
    return [...this.#clients.values()]
      .sort((a, b) => a.createdAt - b.createdAt)
      .map(copyClient)
  }

  async deleteClient (id: string): Promise<boolean> {
    if (!this.#clients.delete(id)) return false
    for (const token of [...this.#tokens.values()]) {
      if (token.clientId === id) this.#deleteToken(token)
    }
    for (const code of [...this.#codes.values()]) {
      if (code.clientId === id) this.#codes.delete(code.codeHash)
    }
    return true
  }

  async updateClientSecret (id: string, secretHash: string): Promise<boolean> {
    const client = this.#clients.get(id)
    if (client === undefined) return false
    client.secretHash = secretHash
    return true
  }

  async createToken (token: NewToken): Promise<void> {
    this.#insertToken(token)
  }

  async findByAccessTokenHash (accessTokenHash: string): Promise<AccessTokenLookup | null> {
    const id = this.#tokenIdByAccessHash.get(accessTokenHash)
    const token = id === undefined ? undefined : this.#tokens.get(id)
    if (token === undefined) return null
    const user = token.userId === null ? undefined : this.#users.get(token.userId)
    return {
      token: {
        id: token.id,
        familyId: token.familyId,
        clientId: token.clientId,
        userId: token.userId,
        scopes: [...token.scopes],
        accessExpiresAt: token.accessExpiresAt,
        createdAt: token.createdAt,
        rotatedAt: token.rotatedAt,
        revokedAt: token.revokedAt
      },
      user: user === undefined ? null : { id: user.id, username: user.username }
    }
  }

  async findByRefreshTokenHash (refreshTokenHash: string): Promise<TokenRecord | null> {
    const id = this.#tokenIdByRefreshHash.get(refreshTokenHash)
    const token = id === undefined ? undefined : this.#tokens.get(id)
    return token === undefined ? null : copyToken(token)
  }

  async rotateRefreshToken (currentId: string, next: NewToken, now: number, reuse: RefreshReuse): Promise<boolean> {
    const current = this.#tokens.get(currentId)
    if (current === undefined || current.revokedAt !== null) return false
    const exchanges = this.#exchanges.get(currentId) ?? 0
    if (current.rotatedAt !== null && (current.rotatedAt <= reuse.since || exchanges >= reuse.maxExchanges)) return false
    this.#insertToken(next)
    current.rotatedAt ??= now
    this.#exchanges.set(currentId, exchanges + 1)
    return true
  }

  async revokeToken (id: string, now: number): Promise<boolean> {
    const token = this.#tokens.get(id)
    if (token === undefined) return false
    token.revokedAt ??= now
    return true
  }

  async revokeFamily (familyId: string, now: number): Promise<number> {
    return this.#revokeWhere((token) => token.familyId === familyId, now)
  }

  async revokeClientTokens (clientId: string, now: number): Promise<number> {
    return this.#revokeWhere((token) => token.clientId === clientId, now)
  }

  async revokeUserTokens (userId: string, now: number): Promise<number> {
    return this.#revokeWhere((token) => token.userId === userId, now)
  }

  async deleteExpiredTokens (now: number, limit: number): Promise<number> {
    let deleted = 0
    for (const token of [...this.#tokens.values()]) {
      if (deleted >= limit) break
      if (token.accessExpiresAt >= now) continue
      if (token.refreshExpiresAt !== null && token.refreshExpiresAt >= now) continue
      this.#deleteToken(token)
      deleted++
    }
    return deleted
  }

  async hitThrottle (key: string, windowMs: number, now: number, by: 1 | -1 = 1): Promise<ThrottleState> {
    const current = this.#throttles.get(key)
    const next = current === undefined || current.resetAt <= now
      ? { count: Math.max(by, 0), resetAt: now + windowMs }
      : { count: Math.max(current.count + by, 0), resetAt: current.resetAt }
    this.#throttles.set(key, next)
    return { ...next }
  }

  async getThrottle (key: string, now: number): Promise<ThrottleState | null> {
    const current = this.#throttles.get(key)
    return current === undefined || current.resetAt <= now ? null : { ...current }
  }

  async clearThrottle (key: string): Promise<void> {
    this.#throttles.delete(key)
  }

  async deleteExpiredThrottles (now: number, limit: number): Promise<number> {
    let deleted = 0
    for (const [key, state] of [...this.#throttles]) {
      if (deleted >= limit) break
      if (state.resetAt >= now) continue
      this.#throttles.delete(key)
      deleted++
    }
    return deleted
  }

  async createAuthorizationCode (code: NewAuthorizationCode): Promise<void> {
    if (this.#codes.has(code.codeHash)) throw new Error('authorization code already exists')
    this.#codes.set(code.codeHash, { ...code, scopes: [...code.scopes], usedAt: null, familyId: null })
  }

  async findAuthorizationCode (codeHash: string): Promise<AuthorizationCodeRecord | null> {
    const code = this.#codes.get(codeHash)
    return code === undefined ? null : { ...code, scopes: [...code.scopes] }
  }

  async redeemAuthorizationCode (codeHash: string, token: NewToken, now: number): Promise<boolean> {
    const code = this.#codes.get(codeHash)
    if (code === undefined || code.usedAt !== null || code.expiresAt <= now) return false
    this.#insertToken(token)
    code.usedAt = now
    code.familyId = token.familyId
    return true
  }

  async createSession (session: SessionRecord): Promise<void> {
    if (this.#sessions.has(session.idHash)) throw new Error('session already exists')
    this.#sessions.set(session.idHash, { ...session })
  }

  async findSession (idHash: string): Promise<SessionRecord | null> {
    const session = this.#sessions.get(idHash)
    return session === undefined ? null : { ...session }
  }

  async deleteSession (idHash: string): Promise<boolean> {
    return this.#sessions.delete(idHash)
  }

  async deleteUserSessions (userId: string): Promise<number> {
    const sessions = [...this.#sessions.values()].filter((session) => session.userId === userId)
    const codes = [...this.#codes.values()].filter((code) => code.userId === userId && code.usedAt === null)
    for (const session of sessions) this.#sessions.delete(session.idHash)
    for (const code of codes) this.#codes.delete(code.codeHash)
    return sessions.length + codes.length
  }

  async deleteExpiredCodesAndSessions (now: number, limit: number): Promise<number> {
    let deleted = 0
    for (const map of [this.#codes, this.#sessions]) {
      for (const [key, record] of [...map]) {
        if (deleted >= limit) return deleted
        if (record.expiresAt >= now) continue
        map.delete(key)
        deleted++
      }
    }
    return deleted
  }

  #copyUser (id: string): UserRecord | null {
    const user = this.#users.get(id)
    return user === undefined ? null : { ...user }
  }

  #insertToken (token: NewToken): void {
    if (this.#tokens.has(token.id) || this.#tokenIdByAccessHash.has(token.accessTokenHash) ||
      (token.refreshTokenHash !== null && this.#tokenIdByRefreshHash.has(token.refreshTokenHash))) {
      throw new Error('token already exists')
    }
    const record: TokenRecord = { ...token, scopes: [...token.scopes], rotatedAt: null, revokedAt: null }
    this.#tokens.set(record.id, record)
    this.#tokenIdByAccessHash.set(record.accessTokenHash, record.id)
    if (record.refreshTokenHash !== null) this.#tokenIdByRefreshHash.set(record.refreshTokenHash, record.id)
  }

  #deleteToken (token: TokenRecord): void {
    this.#tokens.delete(token.id)
    this.#exchanges.delete(token.id)
    this.#tokenIdByAccessHash.delete(token.accessTokenHash)
    if (token.refreshTokenHash !== null) this.#tokenIdByRefreshHash.delete(token.refreshTokenHash)
  }

  #revokeWhere (match: (token: TokenRecord) => boolean, now: number): number {
    let changed = 0
    for (const token of this.#tokens.values()) {
      if (!match(token) || token.revokedAt !== null) continue
      token.revokedAt = now
      changed++
    }
    return changed
  }
}

function copyClient (client: ClientRecord): ClientRecord {
  return { ...client, grants: [...client.grants], scopes: [...client.scopes], redirectUris: [...client.redirectUris], origins: [...client.origins] }
}

function copyToken (token: TokenRecord): TokenRecord {
  return { ...token, scopes: [...token.scopes] }
}
