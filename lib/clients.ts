import { generateClientId, generateToken, hashToken } from './crypto/tokens.js'
import { SCOPE_TOKEN } from './scopes.js'
import type { ClientRecord, ClientType, GrantType, OAuth2Store } from './store/store.js'

/** What `createClient` needs. */
export interface NewClientOptions {
  name: string
  type: ClientType
  /** Grants the client may use. Default `['password', 'refresh_token']`. */
  grants?: GrantType[]
  /** Scopes the client may ask for; empty or absent means every configured scope. */
  scopes?: string[]
  /**
   * Redirection URIs for the authorization code grant, matched exactly (see `checkRedirectUri`). Default none.
   */
  redirectUris?: string[]
  /** Ask the user to approve the client (a third-party client). Default `false`: first-party, no consent page. */
  requireConsent?: boolean
  /**
   * A browser client: the token endpoint sets its refresh token in an HttpOnly cookie instead of the JSON
   * body, and takes its token requests only from `origins`, as JSON. Default `false`.
   */
  refreshCookie?: boolean
  /**
   * The client's web origins (`https://host[:port]`, or `http` on a loopback host), matched exactly against
   * the `Origin` header; CORS with credentials is allowed for them. Required with `refreshCookie`.
   */
  origins?: string[]
  /** Creation time in milliseconds. Default now. */
  now?: number
}

/** A new client, and its secret: shown this once, stored only as a SHA-256 hash. */
export interface CreatedClient {
  client: ClientRecord
  /** `null` for public clients. */
  clientSecret: string | null
}

const GRANTS: readonly GrantType[] = ['password', 'refresh_token', 'client_credentials', 'authorization_code']

/** Checks and creates a client in a store; throws a TypeError describing a bad option. */
export async function createClient (store: OAuth2Store, options: NewClientOptions): Promise<CreatedClient> {
  const { name, type } = options
  const grants: GrantType[] = [...new Set<GrantType>(options.grants ?? ['password', 'refresh_token'])]
  if (typeof name !== 'string' || name.trim().length === 0) throw new TypeError('a client needs a name')
  if (type !== 'public' && type !== 'confidential') throw new TypeError('a client type is "public" or "confidential"')
  const unknown = grants.find((g) => !GRANTS.includes(g))
  if (unknown !== undefined) throw new TypeError(`unknown grant "${unknown}": use ${GRANTS.join(', ')}`)
  if (grants.length === 0) throw new TypeError('a client needs at least one grant')
  if (type === 'public' && grants.includes('client_credentials')) {
    throw new TypeError('client_credentials is for confidential clients only (a public client cannot keep a secret)')
  }
  const scopes = [...new Set(options.scopes ?? [])]
  // An empty string would be stored as "no restriction": every scope. Refuse anything not a scope token.
  const badScope = scopes.find((scope) => typeof scope !== 'string' || !SCOPE_TOKEN.test(scope))
  if (badScope !== undefined) {
    throw new TypeError(`scope ${JSON.stringify(badScope)} is not a scope token (printable ASCII, no spaces or quotes)`)
  }
  const redirectUris = [...new Set(options.redirectUris ?? [])].map(checkRedirectUri)
  if (grants.includes('authorization_code') && redirectUris.length === 0) {
    throw new TypeError('the authorization_code grant needs at least one redirect URI')
  }
  const origins = [...new Set(options.origins ?? [])].map(checkOrigin)
  const refreshCookie = options.refreshCookie === true
  if (refreshCookie && origins.length === 0) throw new TypeError('refreshCookie needs at least one origin')
  if (refreshCookie && (type !== 'public' || !grants.includes('refresh_token'))) {
    throw new TypeError('refreshCookie is for public clients with the refresh_token grant (a browser keeps no secret)')
  }
  const clientSecret = type === 'confidential' ? generateToken() : null
  const client: ClientRecord = {
    id: generateClientId(),
    name: name.trim(),
    type,
    secretHash: clientSecret === null ? null : hashToken(clientSecret),
    grants,
    scopes,
    redirectUris,
    requireConsent: options.requireConsent === true,
    refreshCookie,
    origins,
    createdAt: options.now ?? Date.now()
  }
  await store.createClient(client)
  return { client, clientSecret }
}

/** Hosts a plain-http redirection URI may name: the loopback interface only (RFC 8252 §7.3). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost'])
/** A private-use scheme of a native app: a reverse domain name, so it holds a dot (RFC 8252 §7.1). */
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/

/**
 * Checks a redirection URI as registration must (RFC 6749 §3.1.2, RFC 8252, RFC 9700 §2.1): absolute, no
 * fragment, no whitespace; `https`, plain `http` on a loopback host only, or a native app's private-use
 * scheme (`com.example.app:/callback`). Returns it as given; throws a TypeError saying what is wrong.
 */
export function checkRedirectUri (uri: string): string {
  if (typeof uri !== 'string' || !URL.canParse(uri) || /\s/.test(uri)) {
    throw new TypeError(`redirect URI ${JSON.stringify(uri)} is not an absolute URI`)
  }
  if (uri.includes('#')) throw new TypeError(`redirect URI "${uri}" has a fragment`)
  const url = new URL(uri)
  if (url.protocol === 'https:') return uri
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return uri
  if (PRIVATE_USE_SCHEME.test(url.protocol)) return uri
  throw new TypeError(`redirect URI "${uri}" must be https, http on a loopback host, or a private-use scheme like com.example.app:/callback`)
}

/**
 * Checks a web origin as a browser sends it in `Origin`: `https://host[:port]`, or plain `http` on a
 * loopback host; no path, query, fragment or credentials. Returns it as given; throws a TypeError.
 */
export function checkOrigin (origin: string): string {
  const bad = (why: string): TypeError => new TypeError(`origin ${JSON.stringify(origin)} ${why}`)
  if (typeof origin !== 'string' || !URL.canParse(origin) || /\s/.test(origin)) throw bad('is not an absolute URL')
  const url = new URL(origin)
  // The serialised origin is what a browser sends: anything more (a path, a default port, upper case) differs.
  if (url.origin !== origin) throw bad(`must be exactly scheme://host[:port], like "${url.origin}"`)
  if (url.protocol === 'https:') return origin
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return origin
  throw bad('must be https, or http on a loopback host')
}

/** What `rotateClientSecret` may do besides. */
export interface RotateSecretOptions {
  /**
   * Also revoke every token issued to the client (for a leaked secret). Without it, tokens issued before
   * the rotation keep working until they expire: the secret authenticates the client, not its tokens.
   */
  revokeTokens?: boolean
  /** The time of the revocation, in milliseconds. Default now. */
  now?: number
}

/**
 * Gives a confidential client a new secret (the old one stops working at once); null if no such client.
 * With `revokeTokens`, every token issued to it is revoked too (a server's `tokenCache` keeps a revoked
 * token at most its `ttl`).
 */
export async function rotateClientSecret (store: OAuth2Store, clientId: string, options: RotateSecretOptions = {}): Promise<string | null> {
  const client = await store.findClient(clientId)
  if (client === null || client.type !== 'confidential') return null
  const clientSecret = generateToken()
  if (!await store.updateClientSecret(clientId, hashToken(clientSecret))) return null
  if (options.revokeTokens === true) await store.revokeClientTokens(clientId, options.now ?? Date.now())
  return clientSecret
}
