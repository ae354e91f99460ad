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
  /** Creation time in milliseconds. Default now. */
  now?: number
}

/** A new client, and its secret: shown this once, stored only as a SHA-256 hash. */
export interface CreatedClient {
  client: ClientRecord
  /** `null` for public clients. */
  clientSecret: string | null
}

const GRANTS: readonly GrantType[] = ['password', 'refresh_token', 'client_credentials']

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
  const clientSecret = type === 'confidential' ? generateToken() : null
  const client: ClientRecord = {
    id: generateClientId(),
    name: name.trim(),
    type,
    secretHash: clientSecret === null ? null : hashToken(clientSecret),
    grants,
    scopes,
    redirectUris: [...new Set(options.redirectUris ?? [])].map(checkRedirectUri),
    requireConsent: options.requireConsent === true,
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
