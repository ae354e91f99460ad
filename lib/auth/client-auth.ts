import type { FastifyRequest } from 'fastify'
import { OAuth2Error } from '../errors.js'
import { isDjangoPbkdf2Hash, verifyDjangoPbkdf2 } from '../crypto/django-hashes.js'
import { hashToken, secretMatches } from '../crypto/tokens.js'
import type { ClientRecord, OAuth2Store } from '../store/store.js'

/** The client parameters a form or JSON body may carry. */
export interface ClientParameters {
  client_id?: string
  client_secret?: string
}

interface PresentedCredentials {
  clientId: string
  clientSecret: string | null
  viaBasic: boolean
}

/** The Basic scheme, case-insensitive, followed by whitespace or nothing. */
const BASIC_SCHEME = /^basic(?:[ \t]|$)/i
/** The whole header as RFC 7617 spells it: the scheme, spaces, one base64 token68. */
const BASIC = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i

/** `application/x-www-form-urlencoded` decoding of one Basic credential part (RFC 6749 §2.3.1). */
function formDecode (part: string): string | null {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '))
  } catch {
    return null
  }
}

/**
 * Parses `Authorization: Basic …` per RFC 6749 §2.3.1: base64 of `urlencode(id) ":" urlencode(secret)`.
 * Returns undefined when the header is not Basic, null when it is Basic but malformed.
 */
export function parseBasicAuthorization (header: string | undefined): { id: string, secret: string } | null | undefined {
  if (header === undefined || !BASIC_SCHEME.test(header)) return undefined
  const match = BASIC.exec(header)
  if (match === null) return null
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return null
  const id = formDecode(decoded.slice(0, colon))
  const secret = formDecode(decoded.slice(colon + 1))
  if (id === null || secret === null || id.length === 0) return null
  return { id, secret }
}

function presented (request: FastifyRequest, body: ClientParameters, challenge: Record<string, string>): PresentedCredentials | null {
  const basic = parseBasicAuthorization(request.headers.authorization)
  if (basic === null) throw new OAuth2Error('invalid_client', 'Malformed HTTP Basic client credentials.', 401, challenge)
  if (basic !== undefined) {
    if (body.client_secret !== undefined && body.client_secret !== '') {
      throw new OAuth2Error('invalid_request', 'Use one client authentication method, not two.')
    }
    if (body.client_id !== undefined && body.client_id !== basic.id) {
      throw new OAuth2Error('invalid_client', 'Client authentication failed.', 401, challenge)
    }
    // An empty Basic password is no secret: it is how client libraries (simple-oauth2, requests-oauthlib)
    // identify a public client by default, and a confidential client sending it fails for want of one.
    return { clientId: basic.id, clientSecret: basic.secret === '' ? null : basic.secret, viaBasic: true }
  }
  if (body.client_id === undefined || body.client_id === '') return null
  // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
  const secret = body.client_secret === '' ? undefined : body.client_secret
  return { clientId: body.client_id, clientSecret: secret ?? null, viaBasic: false }
}

/**
 * Identifies (public) or authenticates (confidential) the client of a request, from HTTP Basic or the
 * body. Every failure is 401 `invalid_client` with a Basic challenge, with one description, so the
 * answer does not tell which part was wrong.
 */
export async function authenticateClient (
  store: OAuth2Store,
  request: FastifyRequest,
  body: ClientParameters,
  realm: string
): Promise<ClientRecord> {
  const challenge = { 'www-authenticate': `Basic realm="${realm}"` }
  const credentials = presented(request, body, challenge)
  // Made only when thrown: an Error's stack trace costs more than the rest of a public client's check.
  const failed = (): OAuth2Error => new OAuth2Error('invalid_client', 'Client authentication failed.', 401, challenge)
  if (credentials === null) throw failed()
  const client = await store.findClient(credentials.clientId)
  if (client === null) throw failed()
  if (client.type === 'public') {
    // A public client has no secret: presenting one is a confused client.
    if (credentials.clientSecret !== null) throw failed()
    return client
  }
  if (credentials.clientSecret === null || client.secretHash === null) throw failed()
  if (isDjangoPbkdf2Hash(client.secretHash)) return await upgradeDjangoSecret(store, client, credentials.clientSecret, failed)
  if (!secretMatches(credentials.clientSecret, client.secretHash)) throw failed()
  return client
}

/**
 * A secret DOT ≥ 2.0 hashed with Django's PBKDF2, brought over by `importFromDjango`: checked with
 * Django's hasher once, then stored as its SHA-256 like every other secret (a PBKDF2 per request is too
 * costly for client authentication).
 */
async function upgradeDjangoSecret (store: OAuth2Store, client: ClientRecord, secret: string, failed: () => OAuth2Error): Promise<ClientRecord> {
  if (!await verifyDjangoPbkdf2(client.secretHash as string, secret)) throw failed()
  const secretHash = hashToken(secret)
  await store.updateClientSecret(client.id, secretHash)
  return { ...client, secretHash }
}
