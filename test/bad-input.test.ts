/**
 * Bad input of any kind gets a 4xx with an OAuth2-shaped body, never a 5xx, and changes nothing stored.
 * Hundreds of malformed and hostile requests, from tables and from a seeded generator (deterministic).
 */
import { Readable } from 'node:stream'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { MemoryStore, type NewToken, type NewUser, type RefreshReuse, type UserRecord } from '../lib/index.js'
import { usernameKey } from '../lib/users.js'
import { basic, buildApp, type TestApp } from './fixtures/app.js'

/** A MemoryStore that records every write that changed something. */
class CountingStore extends MemoryStore {
  readonly writes: string[] = []

  override async createUser (user: NewUser): Promise<UserRecord | null> {
    const created = await super.createUser(user)
    if (created !== null) this.writes.push(`createUser ${user.username}`)
    return created
  }

  override async updatePasswordHash (userId: string, passwordHash: string): Promise<boolean> {
    const changed = await super.updatePasswordHash(userId, passwordHash)
    if (changed) this.writes.push(`updatePasswordHash ${userId}`)
    return changed
  }

  override async createToken (token: NewToken): Promise<void> {
    await super.createToken(token)
    this.writes.push(`createToken ${token.id}`)
  }

  override async rotateRefreshToken (currentId: string, next: NewToken, now: number, reuse: RefreshReuse): Promise<boolean> {
    const rotated = await super.rotateRefreshToken(currentId, next, now, reuse)
    if (rotated) this.writes.push(`rotateRefreshToken ${currentId}`)
    return rotated
  }

  override async revokeToken (id: string, now: number): Promise<boolean> {
    const revoked = await super.revokeToken(id, now)
    if (revoked) this.writes.push(`revokeToken ${id}`)
    return revoked
  }

  override async revokeFamily (familyId: string, now: number): Promise<number> {
    const count = await super.revokeFamily(familyId, now)
    if (count > 0) this.writes.push(`revokeFamily ${familyId}`)
    return count
  }

  override async revokeUserTokens (userId: string, now: number): Promise<number> {
    const count = await super.revokeUserTokens(userId, now)
    if (count > 0) this.writes.push(`revokeUserTokens ${userId}`)
    return count
  }
}

/** mulberry32: a small seeded PRNG, so every run sends the same "random" requests. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let r = Math.imul(a ^ (a >>> 15), 1 | a)
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296
  }
}

const random = prng(0x0A0C2)
function pick<T> (items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T
}

const OAUTH2_CODES = [
  'invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client',
  'unsupported_grant_type', 'invalid_scope', 'invalid_token', 'unauthorized'
]
const FORM = 'application/x-www-form-urlencoded'
const JSON_TYPE = 'application/json'
const TOKEN_URLS = ['/o/token/', '/o/token'] as const
const SIGN_UP_URLS = ['/sign_up/', '/sign_up'] as const
const REVOKE_URLS = ['/o/revoke_token/', '/o/revoke_token'] as const
const INTROSPECT_URLS = ['/o/introspect/', '/o/introspect'] as const
const TOKEN_FIELDS = ['grant_type', 'username', 'password', 'refresh_token', 'scope', 'code', 'redirect_uri', 'code_verifier', 'client_id', 'client_secret'] as const
const BODY_LIMIT = 16_384

/**
 * JSON types a parameter takes as a string: a number as its digits (as Django REST Framework does), null as
 * "" (a parameter without a value). Bad input only where the string they stand for is.
 */
const COERCIBLE: unknown[] = [0, -1, 1.5, 1e308, 12345678, 123456789012, null]
/** JSON types no parameter takes: refused as such, whatever the rest of the request. */
const REFUSED_TYPES: unknown[] = [
  true, false, {}, { a: 1 }, { toString: 'x', valueOf: 1 }, { a: { b: { c: [1, { d: null }] } } },
  [], ['password'], ['a', 'b'], [[['deep']]], [null], [{}]
]
/** Every JSON type but string, including nesting. */
const NON_STRINGS: unknown[] = [...COERCIBLE, ...REFUSED_TYPES]

/** Strings that are wrong, odd or hostile. */
const HOSTILE_STRINGS: string[] = [
  '', ' ', '\u0000', 'a\u0000b', '\u0001\u001f\u007f', '\r\n', '\t', 'x'.repeat(5000),
  '%zz', '%', '%E0%A4%A', '+', '&=', '\ud800', '\udfff\ud800', '\u202e', '\ufeff', 'e\u0301', '\u{1F4A9}',
  '__proto__', 'constructor', 'hasOwnProperty', '<script>', "' OR 1=1 --", '${jndi:ldap://x}', '../../etc/passwd',
  '\\', '"', 'ǅ'
]

/** Passwords the default policy refuses whatever the encoding makes of them (sign-up must create nothing). */
const INVALID_PASSWORDS: unknown[] = [
  '', 'short', '\u0000', '%', 'x'.repeat(2000), 'x'.repeat(5000), ['a', 'b'], { a: 'long-enough-pass' }, 1234567, true, null, undefined
]

/** Percent-encodes the UTF-8 bytes of a string (a lone surrogate becomes U+FFFD, as a browser would send). */
function percentEncode (value: string): string {
  let out = ''
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** Form-encodes parameters of any type: arrays repeat the name, objects become `name[key]`. */
function formEncode (params: Record<string, unknown>): string {
  const parts: string[] = []
  const add = (name: string, value: unknown): void => {
    parts.push(`${percentEncode(name)}=${percentEncode(value === null ? '' : String(value))}`)
  }
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue
    if (Array.isArray(value)) for (const item of value) add(name, item)
    else if (typeof value === 'object' && value !== null) for (const [key, item] of Object.entries(value)) add(`${name}[${key}]`, item)
    else add(name, value)
  }
  return parts.join('&')
}

type Kind = 'token' | 'signUp' | 'revoke' | 'introspect' | 'guard'

interface Attempt {
  kind: Kind
  label: string
  request: InjectOptions
}

/** What is wrong with a response to bad input; empty when it is a proper OAuth2 4xx. */
function problems (res: LightMyRequestResponse, kind: Kind): string[] {
  const found: string[] = []
  if (res.statusCode < 400 || res.statusCode >= 500) found.push(`status ${res.statusCode}`)
  if (!/^application\/json/.test(String(res.headers['content-type']))) found.push(`content-type ${String(res.headers['content-type'])}`)
  if (kind !== 'guard' && res.headers['cache-control'] !== 'no-store') found.push('no cache-control: no-store')
  if (kind === 'guard' && !String(res.headers['www-authenticate']).startsWith('Bearer realm=')) found.push('no Bearer challenge')
  let body: unknown
  try {
    body = JSON.parse(res.body)
  } catch {
    return [...found, `body is not JSON: ${res.body.slice(0, 80)}`]
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [...found, 'body is not an object']
  const { error, error_description: description } = body as Record<string, unknown>
  if (typeof error !== 'string' || !OAUTH2_CODES.includes(error)) found.push(`error ${String(error)}`)
  if (typeof description !== 'string') found.push('error_description is not a string')
  return found
}

function printable (value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 60)}…(${text.length})` : text
}

/** Sends every attempt (a few at a time) and asserts each answer is an OAuth2-shaped 4xx. */
async function barrage (t: Test, ctx: TestApp, attempts: Attempt[]): Promise<void> {
  const batch = 8
  for (let i = 0; i < attempts.length; i += batch) {
    const slice = attempts.slice(i, i + batch)
    const responses = await Promise.all(slice.map(async (a) => ctx.app.inject(a.request)))
    slice.forEach((attempt, j) => {
      const res = responses[j] as LightMyRequestResponse
      t.same(problems(res, attempt.kind), [], `${attempt.request.method} ${attempt.request.url} ${attempt.label} → ${res.statusCode}`)
    })
  }
}

function post (
  kind: Kind, url: string, label: string, payload: InjectOptions['payload'], contentType?: string, headers: Record<string, string> = {}
): Attempt {
  const all = contentType === undefined ? headers : { 'content-type': contentType, ...headers }
  return { kind, label, request: { method: 'POST', url, payload, headers: all } }
}

/** JSON and form encodings of one parameter set. */
function encodings (kind: Kind, url: string, label: string, params: Record<string, unknown>, which: 'both' | 'json' | 'form' = 'both'): Attempt[] {
  const out: Attempt[] = []
  if (which !== 'form') out.push(post(kind, url, `json ${label}`, JSON.stringify(params), JSON_TYPE))
  if (which !== 'json') out.push(post(kind, url, `form ${label}`, formEncode(params), FORM))
  return out
}

const ctxStore = new CountingStore()
const usernamesSent = new Set<string>()
let sent = 0
let victim = 0
/** A valid, fresh username: if any request creates it, the barrage failed. */
function victimName (): string {
  const name = `victim${victim++}`
  usernamesSent.add(name)
  return name
}
function track (value: unknown): void {
  if (typeof value === 'string') usernamesSent.add(value)
  else if (typeof value === 'number' || typeof value === 'boolean') usernamesSent.add(String(value))
  else if (Array.isArray(value)) value.forEach(track)
}

const ctx = await buildApp(t, { store: ctxStore })
const { publicId, confidentialId } = ctx
const unknownClient = 'no-such-client-aaaaaaaaaaa'

async function send (t: Test, attempts: Attempt[]): Promise<void> {
  for (const a of attempts) {
    const body = a.request.payload
    if (typeof body === 'string' && a.kind === 'signUp') {
      // Remember every username a sign-up carried, however it was encoded.
      try {
        track((JSON.parse(body) as Record<string, unknown> | null)?.username)
      } catch {
        track(new URLSearchParams(body).getAll('username'))
      }
    }
  }
  sent += attempts.length
  await barrage(t, ctx, attempts)
}

t.test('wrong types, missing fields and hostile strings in every token parameter', async (t) => {
  // A refresh grant with a real public client: it gets past client authentication, but never hashes.
  const base: Record<string, unknown> = { grant_type: 'refresh_token', refresh_token: 'not-a-token', client_id: publicId, scope: 'read' }
  const attempts: Attempt[] = []
  let n = 0
  for (const field of TOKEN_FIELDS) {
    const url = TOKEN_URLS[n++ % 2] as string
    const missing = { ...base }
    delete missing[field]
    attempts.push(...encodings('token', url, `without ${field}`, missing))
    for (const value of [...NON_STRINGS, ...HOSTILE_STRINGS]) {
      attempts.push(...encodings('token', TOKEN_URLS[n++ % 2] as string, `${field}=${printable(value)}`, { ...base, [field]: value }))
    }
  }
  await send(t, attempts)
  t.ok(attempts.length > 500, `${attempts.length} requests`)
})

t.test('hostile usernames, passwords and scopes on the password grant (a few dozen reach argon2)', async (t) => {
  const attempts: Attempt[] = []
  let n = 0
  for (const value of HOSTILE_STRINGS) {
    const url = TOKEN_URLS[n++ % 2] as string
    // Scopes are checked before the password: no hashing for these.
    attempts.push(...encodings('token', url, `scope=${printable(value)}`,
      { grant_type: 'password', username: 'pony', password: 'djangsta-secret', scope: value, client_id: publicId }))
    attempts.push(...encodings('token', url, `username=${printable(value)}`,
      { grant_type: 'password', username: value, password: 'djangsta-secret', client_id: publicId }, n % 2 === 0 ? 'json' : 'form'))
    attempts.push(...encodings('token', url, `password=${printable(value)}`,
      { grant_type: 'password', username: 'pony', password: value, client_id: publicId }, n % 2 === 0 ? 'form' : 'json'))
  }
  await send(t, attempts)
})

t.test('wrong types, missing fields and hostile strings in sign-up', async (t) => {
  const attempts: Attempt[] = []
  let n = 0
  const url = (): string => SIGN_UP_URLS[n++ % 2] as string
  attempts.push(...encodings('signUp', url(), 'empty object', {}))
  attempts.push(...encodings('signUp', url(), 'username only', { username: victimName() }))
  attempts.push(...encodings('signUp', url(), 'password only', { password: 'djangsta-secret' }))
  // A wrong JSON type in one field, the other field valid: only the type is wrong. (Form-encoded, `true`
  // is a string, so these are JSON only; repeated names and `name[key]` forms follow below.)
  for (const value of REFUSED_TYPES) {
    attempts.push(...encodings('signUp', url(), `username=${printable(value)}`, { username: value, password: 'djangsta-secret' }, 'json'))
    attempts.push(...encodings('signUp', url(), `password=${printable(value)}`, { username: victimName(), password: value }, 'json'))
    if (typeof value === 'object' && value !== null && !(Array.isArray(value) && value.length < 2)) {
      attempts.push(...encodings('signUp', url(), `username=${printable(value)}`, { username: value, password: 'djangsta-secret' }, 'form'))
      attempts.push(...encodings('signUp', url(), `password=${printable(value)}`, { username: victimName(), password: value }, 'form'))
    }
  }
  for (const value of [...HOSTILE_STRINGS, ...COERCIBLE]) {
    attempts.push(...encodings('signUp', url(), `username=${printable(value)}`, { username: value, password: 'short' }))
    const length = [...(value === null ? '' : String(value))].length
    // A valid username and a password the policy refuses (a valid odd password is not bad input).
    if (length < 8 || length > 1024) {
      attempts.push(...encodings('signUp', url(), `password=${printable(value)}`, { username: victimName(), password: value }))
    }
  }
  for (const password of INVALID_PASSWORDS) {
    attempts.push(...encodings('signUp', url(), `invalid password ${printable(password)}`, { username: victimName(), password }))
  }
  await send(t, attempts)
})

/** Payloads of every shape, and whether they would be a well-formed request in their natural type. */
function shapes (kind: 'token' | 'signUp'): Array<{ name: string, payload: string | Buffer, natural?: 'json' | 'form' }> {
  const plausible = kind === 'token'
    ? { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: unknownClient }
    : { username: victimName(), password: 'djangsta-secret' }
  const badBytes = Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80])
  const field = kind === 'token' ? 'client_id' : 'username'
  return [
    { name: 'plausible JSON', payload: JSON.stringify(plausible), natural: 'json' },
    { name: 'plausible form', payload: formEncode(plausible), natural: 'form' },
    { name: 'truncated JSON', payload: JSON.stringify(plausible).slice(0, 20) },
    { name: 'JSON, trailing comma', payload: '{"a":1,}' },
    { name: 'JSON, single quotes', payload: "{'username':'x'}" },
    { name: 'two JSON objects', payload: '{"a":1}{"b":2}' },
    { name: 'raw NUL', payload: '\u0000' },
    { name: 'JSON, raw control character in a string', payload: '{"username":"a\u0001b","password":"c\u0000d"}' },
    { name: 'JSON null', payload: 'null' },
    { name: 'JSON true', payload: 'true' },
    { name: 'JSON number', payload: '123' },
    { name: 'JSON string', payload: '"grant_type=password"' },
    { name: 'JSON empty array', payload: '[]' },
    { name: 'JSON array of the body', payload: `[${JSON.stringify(plausible)}]` },
    { name: 'JSON __proto__', payload: '{"__proto__":{"isAdmin":true},"username":"x"}' },
    { name: 'JSON constructor.prototype', payload: '{"constructor":{"prototype":{"isAdmin":true}}}' },
    { name: 'JSON deep nesting', payload: '['.repeat(5000) + ']'.repeat(5000) },
    { name: 'JSON deep nesting with __proto__', payload: '['.repeat(4000) + '{"__proto__":1}' + ']'.repeat(4000) },
    { name: 'empty', payload: '' },
    { name: 'whitespace', payload: ' \r\n\t ' },
    { name: 'form __proto__', payload: '__proto__[isAdmin]=1&constructor[prototype][isAdmin]=1&__proto__=x' },
    { name: 'form invalid percent-encoding', payload: `grant_type=%zz&${field}=%&username=%E0%A4%A&password=%` },
    { name: 'form empty names', payload: '=&&&=x&==' },
    { name: 'form many parameters', payload: 'a=1&'.repeat(3000) },
    { name: 'form with a NUL', payload: `grant_type=password%00&${field}=a%00b&username=%00&password=%00` },
    { name: 'JSON with invalid UTF-8', payload: Buffer.concat([Buffer.from(`{"${field}":"`), badBytes, Buffer.from('","password":"x"}')]) },
    { name: 'form with invalid UTF-8', payload: Buffer.concat([Buffer.from(`grant_type=password&${field}=`), badBytes, Buffer.from('&password=')]) },
    { name: 'binary', payload: Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256)) }
  ]
}

const CONTENT_TYPES: Array<{ type: string | undefined, parsesAs?: 'json' | 'form' }> = [
  { type: JSON_TYPE, parsesAs: 'json' },
  { type: 'application/json; charset=utf-16', parsesAs: 'json' },
  { type: 'APPLICATION/JSON', parsesAs: 'json' },
  { type: FORM, parsesAs: 'form' },
  { type: `${FORM}; charset=iso-8859-1`, parsesAs: 'form' },
  { type: 'text/plain' },
  { type: 'text/plain; charset=utf-8' },
  { type: 'multipart/form-data; boundary=x' },
  { type: 'application/xml' },
  { type: 'application/jsonx' },
  { type: 'application/octet-stream' },
  { type: '' },
  { type: '///;;;=' },
  { type: undefined }
]

t.test('bodies of every shape under every content type', async (t) => {
  const attempts: Attempt[] = []
  const urlsOf = { token: TOKEN_URLS, signUp: SIGN_UP_URLS, revoke: REVOKE_URLS, introspect: INTROSPECT_URLS }
  for (const kind of ['token', 'signUp', 'revoke', 'introspect'] as const) {
    const urls = urlsOf[kind]
    let n = 0
    // Revocation and introspection get the token route's shapes: a client (an unknown one) and no token.
    for (const shape of shapes(kind === 'signUp' ? 'signUp' : 'token')) {
      for (const { type, parsesAs } of CONTENT_TYPES) {
        // A plausible sign-up in its own content type is no bad input: it would (rightly) create a user.
        if (kind === 'signUp' && shape.natural !== undefined && shape.natural === parsesAs) continue
        attempts.push(post(kind, urls[n++ % 2] as string, `${shape.name} as ${String(type)}`, shape.payload, type))
      }
    }
    // No body at all, with and without a content type.
    for (const type of [undefined, JSON_TYPE, FORM]) {
      const headers = type === undefined ? {} : { 'content-type': type }
      attempts.push({ kind, label: `no body, ${String(type)}`, request: { method: 'POST', url: urls[0], headers } })
    }
    // A Content-Length that lies, and an upload that breaks off.
    attempts.push(post(kind, urls[0], 'content-length too long', '{}', JSON_TYPE, { 'content-length': '10' }))
    attempts.push(post(kind, urls[1], 'content-length too short', '{"a":1}', JSON_TYPE, { 'content-length': '2' }))
    attempts.push(post(kind, urls[0], 'content-length negative', '{}', JSON_TYPE, { 'content-length': '-1' }))
    attempts.push(post(kind, urls[1], 'content-length over the limit', '{}', JSON_TYPE, { 'content-length': '99999999' }))
    attempts.push(post(kind, urls[0], 'broken upload', new Readable({ read () { this.destroy(new Error('connection reset')) } }), JSON_TYPE))
    const chunked = { 'transfer-encoding': 'chunked' }
    attempts.push(post(kind, urls[1], 'chunked, cut short', Readable.from([Buffer.from('{"username":')]), JSON_TYPE, chunked))
    attempts.push(post(kind, urls[0], 'chunked, over the limit', Readable.from([Buffer.alloc(10_000, 97), Buffer.alloc(10_000, 97)]), FORM, chunked))
  }
  await send(t, attempts)
})

/** Authorization headers that are Basic but malformed (RFC 6749 §2.3.1). */
const b64 = (value: string | Buffer): string => Buffer.from(value).toString('base64')
const MALFORMED_BASIC = [
  'Basic', 'Basic ', 'basic', 'BASIC    ', 'Basic !!!', 'Basic ====', `Basic ${b64('abc')}`.replace(/=+$/, '') + '=====',
  `Basic ${b64('no-colon')}`, `Basic ${b64(':secret')}`, `Basic ${b64(':')}`, `Basic ${b64('%zz:secret')}`, `Basic ${b64('id:%zz')}`,
  `Basic ${b64('%:x')}`, `Basic ${b64('id:%E0%A4%A')}`, `Basic ${b64(Buffer.from([0xff, 0xfe]))}`, `Basic ${'A'.repeat(10_000)}`,
  'Basic \u0000', 'Basic \u4e2d\u6587', `bAsIc ${b64('')}`
]
/** Basic headers that are well-formed but name no client, or carry a wrong secret. */
const WRONG_BASIC = [
  basic(unknownClient, 'secret'), basic('id with spaces', ''), basic('\u0000', '\u0000'),
  `Basic ${b64(Buffer.from([0xff, 0x3a, 0xfe]))}`, basic(confidentialId, 'wrong-secret'), basic(confidentialId, ''),
  // (`basic(publicId, '')` is no wrong credential: it identifies the public client, test/client-auth.test.ts.)
  basic(publicId, 'a-secret-for-a-public-client')
]

t.test('malformed and wrong HTTP Basic client credentials on the token, revocation and introspection routes', async (t) => {
  const attempts: Attempt[] = []
  let n = 0
  for (const authorization of [...MALFORMED_BASIC, ...WRONG_BASIC]) {
    for (const grant of ['password', 'refresh_token', 'client_credentials']) {
      const params = { grant_type: grant, username: 'pony', password: 'djangsta-secret', refresh_token: 'x' }
      const url = TOKEN_URLS[n++ % 2] as string
      attempts.push(post('token', url, `${grant}, ${printable(authorization)}`, formEncode(params), FORM, { authorization }))
    }
    // The revocation and introspection routes authenticate clients the same way (RFC 7009 §2.1, RFC 7662 §2.1).
    for (const [kind, urls] of [['revoke', REVOKE_URLS], ['introspect', INTROSPECT_URLS]] as const) {
      attempts.push(post(kind, urls[n % 2] as string, printable(authorization), 'token=not-a-token&token_type_hint=access_token', FORM, { authorization }))
    }
  }
  await send(t, attempts)
})

t.test('hostile Authorization headers on a guarded route', async (t) => {
  const headers = [
    'Bearer', 'Bearer ', 'bearer', 'Bearer a b c', 'Bearer  a  b', `Bearer ${'a'.repeat(100_000)}`, `bearer ${'A'.repeat(600)}`,
    'Bearer ===', 'Bearer a==b', 'Bearer =abc', 'Bearer ab"c', 'Bearer a,b', 'Bearer \u00e9\u00e9', 'Bearer \u4e2d\u6587',
    'Bearer \u0000', 'Bearer a\r\nX-Evil: 1', 'Bearer\ta', 'Bearer:abc', 'BearerXYZ', `BEARER ${'x'.repeat(43)}`,
    'Token abc', 'Basic YTpi', 'Digest username="x"', 'Negotiate abc', 'MAC id="a"', '', ' ', '\u0000', 'null', 'undefined',
    `Bearer ${b64(Buffer.alloc(32)).replace(/=/g, '')}`
  ]
  // And a few hundred more, from the seeded generator.
  const schemes = ['Bearer ', 'bearer ', 'BEARER  ', 'Bearer', 'Basic ', 'Token ', '', ' Bearer ', 'Bearer\t']
  const alphabet = 'abcXYZ019-._~+/= ,;:"\'\\\u0000\u0001\u007f\u00a0\u00ff\u0100\u4e2d\ud800\u{1F4A9}%'
  const chars = [...alphabet]
  for (let i = 0; i < 200; i++) {
    const length = pick([0, 1, 5, 43, 44, 100, 513, 2000])
    let value = ''
    for (let j = 0; j < length; j++) value += pick(chars)
    headers.push(pick(schemes) + value)
  }
  const attempts = headers.map((authorization): Attempt => ({
    kind: 'guard',
    label: printable(authorization),
    request: { method: 'GET', url: '/me', headers: { authorization } }
  }))
  attempts.push({ kind: 'guard', label: 'no header', request: { method: 'GET', url: '/me' } })
  await send(t, attempts)
})

t.test('seeded random combinations of fields, values, encodings, headers and query strings', async (t) => {
  const valuesFor: Record<string, unknown[]> = {
    grant_type: ['password', 'refresh_token', 'client_credentials', 'authorization_code', ...NON_STRINGS, ...HOSTILE_STRINGS],
    username: ['pony', ...NON_STRINGS, ...HOSTILE_STRINGS],
    password: ['djangsta-secret', ...NON_STRINGS, ...HOSTILE_STRINGS],
    refresh_token: ['not-a-token', ...NON_STRINGS, ...HOSTILE_STRINGS],
    scope: ['read', 'read write', 'admin', ...NON_STRINGS, ...HOSTILE_STRINGS],
    client_id: [publicId, confidentialId, unknownClient, ...NON_STRINGS, ...HOSTILE_STRINGS],
    client_secret: ['wrong-secret', ...NON_STRINGS, ...HOSTILE_STRINGS],
    code: ['not-a-code', ...NON_STRINGS, ...HOSTILE_STRINGS],
    redirect_uri: ['http://127.0.0.1/cb', ...NON_STRINGS, ...HOSTILE_STRINGS],
    code_verifier: ['v'.repeat(43), ...NON_STRINGS, ...HOSTILE_STRINGS],
    extra: ['x', ...NON_STRINGS]
  }
  const authorizations = [undefined, undefined, undefined, ...MALFORMED_BASIC, ...WRONG_BASIC, 'Bearer abc', 'Basic abc def']
  const attempts: Attempt[] = []
  for (let i = 0; i < 300; i++) {
    const kind = random() < 0.65 ? 'token' : 'signUp'
    const params: Record<string, unknown> = {}
    const fields = kind === 'token' ? [...TOKEN_FIELDS, 'extra'] : ['username', 'password', 'extra']
    for (const field of fields) {
      if (random() < 0.6) params[field] = pick(valuesFor[field] as unknown[])
    }
    // A sign-up must stay invalid whatever the encoding makes of it: its password is one the policy refuses.
    if (kind === 'signUp') {
      params.username ??= victimName()
      params.password = pick(INVALID_PASSWORDS)
    }
    const encoding = pick(['json', 'json', 'form', 'form', 'json-as-form', 'form-as-json', 'text/plain', 'none'] as const)
    const json = JSON.stringify(params)
    const form = formEncode(params)
    const [payload, type] = {
      json: [json, JSON_TYPE],
      form: [form, FORM],
      'json-as-form': [json, FORM],
      'form-as-json': [form, JSON_TYPE],
      'text/plain': [form, 'text/plain'],
      none: [form, undefined]
    }[encoding]
    const urls = kind === 'token' ? TOKEN_URLS : SIGN_UP_URLS
    const query = random() < 0.1 ? `?${pick(['grant_type=password', 'a', 'client_id=x&x=%zz', '='])}` : ''
    const authorization = pick(authorizations)
    attempts.push(post(kind, pick(urls) + query, `${encoding} ${printable(params)} ${printable(authorization)}`,
      payload, type, authorization === undefined ? {} : { authorization }))
  }
  await send(t, attempts)
})

/** Asserts one precise answer. */
async function expectError (t: Test, request: InjectOptions, status: number, error: string, label: string): Promise<LightMyRequestResponse> {
  const res = await ctx.app.inject(request)
  sent++
  t.equal(res.statusCode, status, `${label}: status`)
  t.equal(res.json().error, error, `${label}: error`)
  t.equal(typeof res.json().error_description, 'string', `${label}: error_description`)
  t.equal(res.headers['cache-control'], 'no-store', `${label}: cache-control`)
  return res
}

const form = (url: string, payload: string, headers: Record<string, string> = {}): InjectOptions =>
  ({ method: 'POST', url, payload, headers: { 'content-type': FORM, ...headers } })
const json = (url: string, payload: string | object): InjectOptions => ({
  method: 'POST',
  url,
  payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  headers: { 'content-type': JSON_TYPE }
})

type Expected = [label: string, request: InjectOptions, status: number, error: string]

function tokenExpectations (url: string): Expected[] {
  const pony = `username=pony&password=secret&client_id=${publicId}`
  const grants = [
    'implicit', 'PASSWORD', 'password ', 'password\u0000',
    'urn:ietf:params:oauth:grant-type:jwt-bearer', '__proto__', 'constructor', 'toString', 'hasOwnProperty'
  ]
  return [
    // RFC 6749 §3.1: parameters must not be repeated.
    ['repeated grant_type', form(url, `grant_type=password&grant_type=password&${pony}`), 400, 'invalid_request'],
    ['repeated client_id', form(url, `grant_type=password&${pony}&client_id=${publicId}`), 400, 'invalid_request'],
    ['repeated refresh_token', form(url, `grant_type=refresh_token&refresh_token=a&refresh_token=b&client_id=${publicId}`), 400, 'invalid_request'],
    ['text/plain', form(url, `grant_type=password&${pony}`, { 'content-type': 'text/plain' }), 415, 'invalid_request'],
    ['100k form', form(url, `client_id=${publicId}&username=${'x'.repeat(100_000)}`), 413, 'invalid_request'],
    ['16 KiB JSON', json(url, { client_id: publicId, username: 'x'.repeat(BODY_LIMIT) }), 413, 'invalid_request'],
    ['query string', form(`${url}?grant_type=password`, `grant_type=password&${pony}`), 400, 'invalid_request'],
    ['client_id in the query string', form(`${url}?client_id=${publicId}`, 'grant_type=password'), 400, 'invalid_request'],
    ['no grant_type', form(url, pony), 400, 'invalid_request'],
    ['empty grant_type', form(url, `grant_type=&${pony}`), 400, 'invalid_request'],
    ['JSON without grant_type', json(url, { client_id: publicId }), 400, 'invalid_request'],
    ...grants.map((grant): Expected =>
      [`grant_type ${printable(grant)}`, form(url, `grant_type=${percentEncode(grant)}&${pony}`), 400, 'unsupported_grant_type']),
    ...['null', '[]', '"grant_type=password"', '123', '{', '{"__proto__":{"a":1}}', ''].map((body): Expected =>
      [`JSON body ${body}`, json(url, body), 400, 'invalid_request']),
    ['no body', { method: 'POST', url }, 400, 'invalid_request']
  ]
}

function signUpExpectations (url: string): Expected[] {
  const name = victimName()
  const valid = `username=${name}&password=djangsta-secret`
  const wrongTypes: Array<[unknown, unknown]> = [
    [true, 'djangsta-secret'], [name, false], [[name], 'djangsta-secret'], [name, ['djangsta-secret']],
    [{ name }, 'djangsta-secret'], [null, 'djangsta-secret'], [name, null], [name, 1234567]
  ]
  wrongTypes.forEach(([username]) => { track(username) })
  return [
    ['repeated username', form(url, `${valid}&username=${name}`), 400, 'invalid_request'],
    ['repeated password', form(url, `${valid}&password=djangsta-secret`), 400, 'invalid_request'],
    ['text/plain', form(url, valid, { 'content-type': 'text/plain' }), 415, 'invalid_request'],
    ['100k form', form(url, `username=${name}&password=${'x'.repeat(100_000)}`), 413, 'invalid_request'],
    ['query string', form(`${url}?username=${name}`, valid), 400, 'invalid_request'],
    ...wrongTypes.map(([username, password]): Expected =>
      [`${printable(username)} / ${printable(password)}`, json(url, { username, password }), 400, 'invalid_request'])
  ]
}

t.test('precise answers', async (t) => {
  const expectations = [
    ...TOKEN_URLS.flatMap(tokenExpectations),
    ...SIGN_UP_URLS.flatMap(signUpExpectations)
  ]
  for (const [label, request, status, error] of expectations) {
    await expectError(t, request, status, error, `${String(request.url)} ${label}`)
  }
  for (const url of TOKEN_URLS) {
    // A malformed Basic header: 401 invalid_client with a Basic challenge (RFC 6749 §5.2).
    for (const authorization of MALFORMED_BASIC) {
      const request = form(url, 'grant_type=password&username=pony&password=secret', { authorization })
      const res = await expectError(t, request, 401, 'invalid_client', `${url} ${printable(authorization)}`)
      t.match(res.headers['www-authenticate'], /^Basic realm="api"$/, 'Basic challenge')
    }
    // A wrong JSON type is refused as such, never coerced into a string.
    for (const field of TOKEN_FIELDS) {
      for (const value of [true, false, ['password'], ['a', 'b'], { a: 1 }]) {
        const body = { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: publicId, [field]: value }
        const res = await expectError(t, json(url, body), 400, 'invalid_request', `${url} ${field}=${printable(value)}`)
        t.match(res.json().error_description, field, 'names the parameter')
      }
    }
  }
})

t.test('a malformed Basic header with a space or a tab is refused, not ignored', async (t) => {
  for (const authorization of ['Basic abc def', `Basic\t${b64('a:b')}`, `Basic ${b64('a:b')} x`]) {
    const res = await ctx.app.inject(form(TOKEN_URLS[0], `grant_type=refresh_token&refresh_token=x&client_id=${publicId}`, { authorization }))
    sent++
    t.equal(res.statusCode, 401, printable(authorization))
    t.equal(res.json().error, 'invalid_client')
  }
})

t.test('a password of unpaired surrogates is refused (it hashes as U+FFFD and matches others)', async (t) => {
  const other = await buildApp(t)
  const password = '\\ud800\\ud801\\ud802\\ud803\\ud804\\ud805\\ud806\\ud807'
  const res = await other.app.inject(json('/sign_up/', `{"username":"surrogates","password":"${password}"}`))
  t.equal(res.statusCode, 400)
  t.equal(await other.store.findUserByUsernameKey('surrogates'), null)
})

t.test('after the whole barrage the store holds nothing new', async (t) => {
  t.ok(sent > 1500, `${sent} bad requests sent`)
  t.same(ctxStore.writes, [], 'no user, token, rotation or revocation was written')
  const found: string[] = []
  for (const name of usernamesSent) {
    if (await ctxStore.findUserByUsernameKey(usernameKey(name)) !== null) found.push(name)
  }
  t.same(found, [], `none of the ${usernamesSent.size} usernames sent exists`)
  t.ok(usernamesSent.size > 100)
})
