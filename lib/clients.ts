import { generateClientId, generateToken, hashToken } from './crypto/tokens.js'
import type { ClientRecord, ClientType, GrantType, OAuth2Store } from './store/store.js'

/** What `createClient` needs. */
export interface NewClientOptions {
  name: string
  type: ClientType
  /** Grants the client may use. Default `['password', 'refresh_token']`. */
  grants?: GrantType[]
  /** Scopes the client may ask for; empty or absent means every configured scope. */
  scopes?: string[]
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
  const clientSecret = type === 'confidential' ? generateToken() : null
  const client: ClientRecord = {
    id: generateClientId(),
    name: name.trim(),
    type,
    secretHash: clientSecret === null ? null : hashToken(clientSecret),
    grants,
    scopes: [...new Set(options.scopes ?? [])],
    createdAt: options.now ?? Date.now()
  }
  await store.createClient(client)
  return { client, clientSecret }
}

/** Gives a confidential client a new secret (the old one stops working at once); null if no such client. */
export async function rotateClientSecret (store: OAuth2Store, clientId: string): Promise<string | null> {
  const client = await store.findClient(clientId)
  if (client === null || client.type !== 'confidential') return null
  const clientSecret = generateToken()
  return await store.updateClientSecret(clientId, hashToken(clientSecret)) ? clientSecret : null
}
