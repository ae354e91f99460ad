/**
 * Users moved over from Django: its PBKDF2-SHA256 hashes (and its argon2 ones) verify, through the bounded
 * hashing queue, and are re-hashed to argon2id at the first successful login. The vectors in
 * fixtures/django-hashes.json were made by fixtures/make-django-hash.py (Python's hashlib, as Django does).
 */
import { hash } from '@node-rs/argon2'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'
import { importUser, MemoryStore } from '../lib/index.js'
import {
  argon2PhcString,
  DJANGO_PBKDF2_MAX_ITERATIONS,
  isDjangoPbkdf2Hash,
  parseDjangoPbkdf2Hash,
  verifyDjangoPbkdf2
} from '../lib/crypto/django-hashes.js'
import { PasswordHasher } from '../lib/crypto/passwords.js'
import { OAuth2Error } from '../lib/errors.js'
import { buildApp } from './fixtures/app.js'

interface Vector { password: string, salt: string, iterations: number, note: string, encoded: string }
const FIXTURE = new URL('./fixtures/django-hashes.json', import.meta.url)
const SCRIPT = new URL('./fixtures/make-django-hash.py', import.meta.url).pathname
const VECTORS: Vector[] = JSON.parse(readFileSync(FIXTURE, 'utf8')).vectors
const PONY = VECTORS[0]!
const INVALID = { error: 'invalid_grant', error_description: 'Invalid credentials given.' }
const CURRENT_ARGON2ID = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/

t.test('every vector verifies with its password and with nothing else', async (t) => {
  t.ok(VECTORS.length >= 4)
  const hasher = new PasswordHasher({ concurrency: 2, maxQueue: 10, retryAfter: 1 })
  for (const v of VECTORS) {
    t.ok(isDjangoPbkdf2Hash(v.encoded), v.note)
    t.match(parseDjangoPbkdf2Hash(v.encoded), { iterations: v.iterations, salt: v.salt }, v.note)
    t.equal(parseDjangoPbkdf2Hash(v.encoded)!.key.length, 32)
    t.ok(await verifyDjangoPbkdf2(v.encoded, v.password), v.note)
    t.notOk(await verifyDjangoPbkdf2(v.encoded, `${v.password}x`), v.note)
    t.ok(hasher.needsRehash(v.encoded), 'a Django hash is always re-hashed')
  }
  t.ok(await hasher.verify(PONY.encoded, PONY.password), 'through the hasher')
  t.notOk(await hasher.verify(PONY.encoded, 'Djangsta-secret'), 'through the hasher: case matters')
  // NFC and NFD spell "ä" with different bytes: Django hashed the bytes it was given, and so do we.
  const unicode = VECTORS.find((v) => v.password !== v.password.normalize('NFD'))!
  t.notOk(await verifyDjangoPbkdf2(unicode.encoded, unicode.password.normalize('NFD')))
})

t.test('malformed hashes, and hashes asking for too much work, are unreadable: they verify as false', async (t) => {
  const [, iterations, salt, key] = PONY.encoded.split('$') as [string, string, string, string]
  const bad = [
    `pbkdf2_sha1$${iterations}$${salt}$${key}`,
    `pbkdf2_sha256$${iterations}$${salt}`,
    `pbkdf2_sha256$${iterations}$${salt}$${key}$`,
    `pbkdf2_sha256$0$${salt}$${key}`,
    `pbkdf2_sha256$0260000$${salt}$${key}`,
    `pbkdf2_sha256$-1$${salt}$${key}`,
    `pbkdf2_sha256$2.6e5$${salt}$${key}`,
    `pbkdf2_sha256$ 260000$${salt}$${key}`,
    `pbkdf2_sha256$$${salt}$${key}`,
    `pbkdf2_sha256$${iterations}$$${key}`,
    `pbkdf2_sha256$${iterations}$${salt}$${key.slice(0, -1)}`,
    `pbkdf2_sha256$${iterations}$${salt}$${key.slice(1)}`,
    `pbkdf2_sha256$${iterations}$${salt}$${key.replace('=', 'A')}`,
    `pbkdf2_sha256$${iterations}$${salt}$${key.slice(0, -2)}-=`,
    `pbkdf2_sha256$${iterations}$${salt}$${key}${key}`,
    `pbkdf2_sha256$${DJANGO_PBKDF2_MAX_ITERATIONS + 1}$${salt}$${key}`,
    `pbkdf2_sha256$99999999999$${salt}$${key}`
  ]
  const hasher = new PasswordHasher({ concurrency: 1, maxQueue: 10, retryAfter: 1 })
  for (const encoded of bad) {
    t.equal(parseDjangoPbkdf2Hash(encoded), null, encoded)
    t.notOk(await verifyDjangoPbkdf2(encoded, PONY.password), encoded)
    t.notOk(await hasher.verify(encoded, PONY.password), encoded)
  }
  t.notOk(isDjangoPbkdf2Hash('pbkdf2_sha1$1$a$b'))
  t.notOk(isDjangoPbkdf2Hash('$argon2id$…'))
  // The bound itself is accepted (parsed only: verifying it would take about a second).
  t.match(parseDjangoPbkdf2Hash(`pbkdf2_sha256$${DJANGO_PBKDF2_MAX_ITERATIONS}$${salt}$${key}`), { iterations: DJANGO_PBKDF2_MAX_ITERATIONS })
  t.ok(DJANGO_PBKDF2_MAX_ITERATIONS >= 1_200_000, 'room for Django 6.0\'s count')
  // A salt may hold anything but "$", as in Django.
  t.match(parseDjangoPbkdf2Hash(`pbkdf2_sha256$1$a b+/é$${key}`), { salt: 'a b+/é', iterations: 1 })
})

t.test('a password that is not well-formed Unicode never verifies (Django could not have hashed it)', async (t) => {
  t.notOk(await verifyDjangoPbkdf2(PONY.encoded, `${PONY.password}\uD800`))
  t.notOk(await verifyDjangoPbkdf2(PONY.encoded, '\uDC00'))
})

t.test('a Django hash is verified through the bounded hashing queue', async (t) => {
  const hasher = new PasswordHasher({ concurrency: 1, maxQueue: 0, retryAfter: 3 })
  const first = hasher.verify(PONY.encoded, PONY.password)
  const second = await hasher.verify(PONY.encoded, PONY.password).catch((e: unknown) => e)
  t.ok(second instanceof OAuth2Error)
  t.match(second, { statusCode: 503, error: 'temporarily_unavailable', headers: { 'retry-after': '3' } })
  t.ok(await first)
})

t.test('Django\'s argon2 format: "argon2" before a PHC string', async (t) => {
  // Django 3.2's Argon2PasswordHasher: argon2id, t=2, m=102400 KiB, p=8, written as "argon2$argon2id$…".
  const phc = await hash('djangsta-secret', { algorithm: 2, timeCost: 2, memoryCost: 102_400, parallelism: 8 })
  const django = `argon2${phc}`
  t.equal(argon2PhcString(django), phc)
  t.equal(argon2PhcString(phc), phc, 'a plain PHC string is left alone')
  t.equal(argon2PhcString('argon2'), 'argon2')
  const hasher = new PasswordHasher({ concurrency: 1, maxQueue: 10, retryAfter: 1 })
  t.ok(await hasher.verify(django, 'djangsta-secret'))
  t.notOk(await hasher.verify(django, 'djangsta-secret!'))
  t.ok(hasher.needsRehash(django))
})

t.test('a user imported with a Django hash logs in once with it, and from then on with argon2id', async (t) => {
  const ctx = await buildApp(t)
  const imported = await importUser(ctx.store, { id: 42, username: 'django.pony', passwordHash: PONY.encoded, createdAt: 1_433_160_000_000 })
  t.same(imported, {
    id: '42', username: 'django.pony', usernameKey: 'django.pony', passwordHash: PONY.encoded, createdAt: 1_433_160_000_000
  })

  const wrong = await ctx.login('django.pony', 'not-the-password')
  const unknown = await ctx.login('nobody', PONY.password)
  t.equal(wrong.statusCode, 400)
  t.same(wrong.json(), INVALID)
  t.equal(wrong.body, unknown.body, 'a wrong password against a Django hash: the same answer as an unknown user')
  t.equal((await ctx.store.findUserById('42'))!.passwordHash, PONY.encoded, 'a failed login changes nothing')

  const res = await ctx.login('django.pony', PONY.password)
  t.equal(res.statusCode, 200, res.body)
  const upgraded = (await ctx.store.findUserById('42'))!.passwordHash
  t.match(upgraded, CURRENT_ARGON2ID, 'upgraded to argon2id with the pinned parameters')
  const [, algorithm, version, parameters] = upgraded.split('$')
  t.same([algorithm, version, parameters], ['argon2id', 'v=19', 'm=19456,t=2,p=1'])

  t.equal((await ctx.login('django.pony', PONY.password)).statusCode, 200, 'the new hash verifies')
  t.equal((await ctx.store.findUserById('42'))!.passwordHash, upgraded, 'and is not re-hashed again')
  t.same((await ctx.login('django.pony', 'not-the-password')).json(), INVALID)
  t.equal((await ctx.me(res.json().access_token)).json().user.id, '42')
})

t.test('importUser: names, hashes, ids and collisions', async (t) => {
  const store = new MemoryStore()
  const argon2 = await hash('djangsta-secret', { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 })
  const plain = await importUser(store, { username: 'ｐｏｎｙ', passwordHash: argon2 })
  t.match(plain, { username: 'pony', usernameKey: 'pony', passwordHash: argon2 })
  t.match(plain!.id, /^[0-9a-f-]{36}$/, 'a new UUID by default')
  t.ok(Math.abs(plain!.createdAt - Date.now()) < 60_000, 'created now by default')
  t.equal(await importUser(store, { username: 'Pony', passwordHash: PONY.encoded }), null, 'taken, case-insensitively')
  t.match(await importUser(store, { username: 'argon', passwordHash: `argon2${argon2}`, id: 'u-1' }), { id: 'u-1' })

  for (const passwordHash of [
    '!unusablepasswordmarker1234567890', '', 'md5$salt$0123456789abcdef0123456789abcdef',
    'bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuu5yQ3x1O2lZ2n3f4g5h6i7j8k9l0m1n2',
    `pbkdf2_sha256$${DJANGO_PBKDF2_MAX_ITERATIONS + 1}$salt$${PONY.encoded.split('$')[3]!}`,
    'argon2', 'argon2$bogus', 42 as unknown as string
  ]) {
    const err = await importUser(store, { username: 'someone', passwordHash }).catch((e: unknown) => e)
    t.type(err, TypeError, String(passwordHash))
    t.match(err, { message: /^importUser: the password hash of "someone" is neither/ })
    if (typeof passwordHash === 'string' && passwordHash.length > 6) t.notMatch((err as Error).message, passwordHash, 'the hash is not shown')
  }
  for (const username of ['', 'a b', 'x'.repeat(1025)]) {
    await t.rejects(importUser(store, { username, passwordHash: argon2 }), { name: 'TypeError', message: /^importUser: The username/ })
  }
  t.equal(await store.findUserByUsernameKey('someone'), null, 'nothing refused was stored')
})

t.test('the committed vectors are what the script makes (when python3 is here)', async (t) => {
  const run = (...args: string[]): Promise<{ stdout: string }> =>
    promisify(execFile)('/bin/sh', ['-c', 'unset NODE_OPTIONS NODE_V8_COVERAGE; exec "$0" "$@"', 'python3', SCRIPT, ...args])
  const python = await run('--vectors').catch((err: unknown) => err as Error)
  if (python instanceof Error) {
    // CI images without python3 still check the committed vectors (the tests above).
    t.comment(`python3 is not available (${python.message.split('\n')[0]}): the script is not re-run`)
    return
  }
  t.same(JSON.parse(python.stdout), JSON.parse(readFileSync(FIXTURE, 'utf8')), '--vectors reproduces the fixture')
  const one = (await run(PONY.password, PONY.salt, String(PONY.iterations))).stdout.trim()
  t.equal(one, PONY.encoded, 'one hash from password, salt and iterations')
  // A fresh hash with Django's random 22-character salt and 260000 iterations verifies here.
  const fresh = (await run('fresh-pony-secret')).stdout.trim()
  t.match(fresh, /^pbkdf2_sha256\$260000\$[A-Za-z0-9]{22}\$[A-Za-z0-9+/]{43}=$/)
  t.ok(await verifyDjangoPbkdf2(fresh, 'fresh-pony-secret'))
  const usage = await run('--help').catch((err: unknown) => err)
  t.match(usage, { code: 2, stderr: /Usage:/ })
})
