/**
 * Password hashes made by Django, read so that users moved over from a Django app log in with their old
 * password: its default `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` (`PBKDF2PasswordHasher`), and
 * `argon2$argon2id$…` (`Argon2PasswordHasher`: `argon2` before a PHC string). The plugin verifies these and
 * re-hashes the password to argon2id (a plain PHC string) on the first successful login.
 */
import { pbkdf2, randomInt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'

const pbkdf2Async = promisify(pbkdf2)

/** The algorithm name Django writes first. */
export const DJANGO_PBKDF2_ALGORITHM = 'pbkdf2_sha256'
/**
 * Most iterations a stored hash may ask for. Django's own count grows each release (260 000 in 3.2,
 * 600 000 in 4.2, 1 000 000 in 5.2, 1 200 000 in 6.0); this leaves room for years of that while a
 * hostile stored hash cannot make one login burn more than about a second of CPU.
 */
export const DJANGO_PBKDF2_MAX_ITERATIONS = 5_000_000
/** SHA-256's output: Django derives a key of the digest's size. */
const KEY_BYTES = 32
/** The base64 of 32 bytes: 43 characters and one `=`. */
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/
/** A decimal count without leading zeros, as Django writes it (`%d`). */
const ITERATIONS = /^[1-9][0-9]{0,9}$/

/** What Django's `Argon2PasswordHasher` writes before the PHC string. */
export const DJANGO_ARGON2_PREFIX = 'argon2'

/** The PHC string inside a Django argon2 hash (`argon2$argon2id$…` → `$argon2id$…`); any other hash unchanged. */
export function argon2PhcString (encoded: string): string {
  return encoded.startsWith(`${DJANGO_ARGON2_PREFIX}$argon2`) ? encoded.slice(DJANGO_ARGON2_PREFIX.length) : encoded
}

/** The parts of a Django PBKDF2-SHA256 hash. */
export interface DjangoPbkdf2Hash {
  iterations: number
  salt: string
  /** The 32-byte derived key. */
  key: Buffer
}

/** Whether a stored hash claims Django's PBKDF2-SHA256 format (well-formed or not). */
export function isDjangoPbkdf2Hash (encoded: string): boolean {
  return encoded.startsWith(`${DJANGO_PBKDF2_ALGORITHM}$`)
}

/** Parses a Django PBKDF2-SHA256 hash; `null` when malformed or asking for too many iterations. */
export function parseDjangoPbkdf2Hash (encoded: string): DjangoPbkdf2Hash | null {
  const parts = encoded.split('$')
  if (parts.length !== 4) return null
  const [algorithm, iterations, salt, key] = parts as [string, string, string, string]
  if (algorithm !== DJANGO_PBKDF2_ALGORITHM || !ITERATIONS.test(iterations) || salt === '' || !BASE64_KEY.test(key)) {
    return null
  }
  const count = Number(iterations)
  if (count > DJANGO_PBKDF2_MAX_ITERATIONS) return null
  return { iterations: count, salt, key: Buffer.from(key, 'base64') }
}

/**
 * Verifies a password against a Django PBKDF2-SHA256 hash, off the event loop, comparing in constant
 * time. A malformed hash, one past `DJANGO_PBKDF2_MAX_ITERATIONS`, or a password that is not well-formed
 * Unicode (Django could never have hashed it) verifies as false.
 */
export async function verifyDjangoPbkdf2 (encoded: string, password: string): Promise<boolean> {
  const parsed = parseDjangoPbkdf2Hash(encoded)
  if (parsed === null || !password.isWellFormed()) return false
  // Django encodes both the password and the salt as UTF-8 (`force_bytes`), as Node does with strings.
  const derived = await pbkdf2Async(password, parsed.salt, parsed.iterations, KEY_BYTES, 'sha256')
  return timingSafeEqual(derived, parsed.key)
}

/** Django's salt alphabet (`RANDOM_STRING_CHARS`) and length (22 characters, about 131 bits, since 3.1). */
const SALT_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
const SALT_LENGTH = 22

/**
 * Hashes a password as Django's `PBKDF2PasswordHasher` does, `pbkdf2_sha256$<iterations>$<salt>$<base64>`,
 * off the event loop: for an app sharing `auth_user` with a running Django, which reads this format with or
 * without optional libraries (and re-hashes it when its own iteration count differs).
 */
export async function hashDjangoPbkdf2 (password: string, iterations: number): Promise<string> {
  let salt = ''
  for (let i = 0; i < SALT_LENGTH; i++) salt += SALT_CHARS[randomInt(SALT_CHARS.length)]
  const key = await pbkdf2Async(password, salt, iterations, KEY_BYTES, 'sha256')
  return `${DJANGO_PBKDF2_ALGORITHM}$${iterations}$${salt}$${key.toString('base64')}`
}
