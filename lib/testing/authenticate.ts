import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { tokenUserResolver } from '../auth/user-directory.js'
import { createClient } from '../clients.js'
import { generateToken, hashToken } from '../crypto/tokens.js'
import type { OAuth2Error } from '../errors.js'
import { internalsOf, type PluginInternals } from '../internals.js'
import { grantScopes } from '../scopes.js'
import type { AccessTokenLookup, ClientRecord, NewToken, UserRecord } from '../store/store.js'
import type { OAuth2User } from '../types.js'
import { checkedUsername, passwordlessUser } from './store.js'

/** Whom `authenticateAs` and `issueTokens` log in, and how. */
export interface AuthenticateAsOptions {
  /**
   * The user. With the plugin's own users (the store), found by name or created without a usable password.
   * With the app's own users (the `users` option), found by `users.findByUsername`; never created.
   */
  username: string
  /** The token's scopes, each configured and allowed for the client. Default: the default scopes. */
  scopes?: string[]
  /** The client the token is issued to, already in the store. Default: a public client the kit adds once per app. */
  clientId?: string
}

/**
 * The headers of an authenticated request: `app.inject({ url, headers })`. A type alias, not an interface,
 * so that it fits header maps with an index signature (inject's, undici's).
 */
export type BearerHeaders = { authorization: string }

/** What `issueTokens` made: a real token pair, in the store like any login's. */
export interface IssuedTokens {
  headers: BearerHeaders
  accessToken: string
  /** `null` when the client may not use the `refresh_token` grant. */
  refreshToken: string | null
  clientId: string
  scopes: string[]
  expiresAt: Date
  /** The user as a guarded route sees it on `request.user`. */
  user: OAuth2User
}

/** Errors name the kit: `authenticateAs` and `issueTokens` share them. */
const KIT = 'fastify-oauth2-server/testing'

const kitClients = new WeakMap<PluginInternals, Promise<ClientRecord>>()

function pluginOf (app: FastifyInstance): PluginInternals {
  const internals = internalsOf((app as Partial<FastifyInstance>).oauth2)
  if (internals === undefined) {
    throw new TypeError(`${KIT}: this app has no fastify-oauth2-server (await app.register(oauth2, options) first)`)
  }
  return internals
}

/** The client of the token: the one asked for, or the kit's own public client, added at first use. */
async function clientFor (internals: PluginInternals, clientId: string | undefined): Promise<ClientRecord> {
  const { store, now } = internals.options
  if (clientId !== undefined) {
    const client = await store.findClient(clientId)
    if (client === null) throw new TypeError(`${KIT}: no client "${clientId}" in the store`)
    return client
  }
  let client = kitClients.get(internals)
  if (client === undefined) {
    client = createClient(store, { name: 'fastify-oauth2-server/testing', type: 'public', now: now() }).then((created) => created.client)
    kitClients.set(internals, client)
    // A failed attempt (a failing store) is not remembered: the next call tries again.
    client.catch(() => kitClients.delete(internals))
  }
  return await client
}

/** The id of the user: in the store (created when absent), or in the app's own users. */
async function userIdFor ({ options }: PluginInternals, username: string): Promise<string> {
  if (options.users !== null) {
    const user = await options.users.findByUsername(username)
    if (user === null) {
      throw new TypeError(`${KIT}: users.findByUsername("${username}") found nobody; the kit cannot add users to the app's own table: add "${username}" there first`)
    }
    if (typeof user.id !== 'string') throw new TypeError(`${KIT}: users.findByUsername("${username}") gave an id that is not a string`)
    return user.id
  }
  const name = checkedUsername(KIT, username, options.usernameMaxLength)
  const existing = await options.store.findUserByUsernameKey(name.usernameKey)
  if (existing !== null) return existing.id
  // Concurrent calls for one new name: one creates it, the others find it.
  const created = await options.store.createUser(passwordlessUser(name, options.now()))
  if (created !== null) return created.id
  return (await options.store.findUserByUsernameKey(name.usernameKey) as UserRecord).id
}

/** The scopes the server would grant, never none; what it would refuse throws with its own reason. */
function scopesFor (internals: PluginInternals, client: ClientRecord, requested: string[] | undefined): string[] {
  try {
    return grantScopes(requested?.join(' '), client, internals.options)
  } catch (err) {
    throw new TypeError(`${KIT}: ${(err as OAuth2Error).message}`)
  }
}

/**
 * Logs a user in without a password: a real token pair minted straight into the store (hashed there like
 * any other), so the guard, scopes, `request.user`, refresh, revocation and expiry (the plugin's `now`)
 * behave exactly as after `/o/token/`. No password is hashed on the way.
 */
export async function issueTokens (app: FastifyInstance, options: AuthenticateAsOptions): Promise<IssuedTokens> {
  const internals = pluginOf(app)
  const { store, now, accessTokenTtl, refreshTokenTtl } = internals.options
  const client = await clientFor(internals, options.clientId)
  const scopes = scopesFor(internals, client, options.scopes)
  const userId = await userIdFor(internals, options.username)

  const issuedAt = now()
  const id = randomUUID()
  const accessToken = generateToken()
  const refreshToken = client.grants.includes('refresh_token') ? generateToken() : null
  const record: NewToken = {
    id,
    familyId: id,
    parentId: null,
    clientId: client.id,
    userId,
    scopes,
    accessTokenHash: hashToken(accessToken),
    refreshTokenHash: refreshToken === null ? null : hashToken(refreshToken),
    accessExpiresAt: issuedAt + accessTokenTtl * 1000,
    refreshExpiresAt: refreshToken === null ? null : issuedAt + refreshTokenTtl * 1000,
    createdAt: issuedAt
  }
  await store.createToken(record)

  // The user as the guard will see it, looked up the guard's way.
  const found = await store.findByAccessTokenHash(record.accessTokenHash) as AccessTokenLookup
  const user = await tokenUserResolver(internals.options)(found)
  if (user === null) throw new TypeError(`${KIT}: the guard would find no user "${options.username}" for this token (users.findById gave null?)`)
  return {
    headers: { authorization: `Bearer ${accessToken}` },
    accessToken,
    refreshToken,
    clientId: client.id,
    scopes,
    expiresAt: new Date(record.accessExpiresAt),
    user
  }
}

/**
 * The headers of a request made by `username` with `scopes`, in one call:
 *
 * ```ts
 * const res = await app.inject({ url: '/me', headers: await authenticateAs(app, { username: 'alice', scopes: ['read'] }) })
 * ```
 *
 * `issueTokens` gives the refresh token and the user too.
 */
export async function authenticateAs (app: FastifyInstance, options: AuthenticateAsOptions): Promise<BearerHeaders> {
  return (await issueTokens(app, options)).headers
}
