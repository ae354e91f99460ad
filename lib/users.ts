import { OAuth2Error } from './errors.js'
import type { ResolvedOptions } from './options.js'

/** Letters, marks, digits and `@ . + - _`, as Django allows (after NFKC). */
const USERNAME = /^[\p{L}\p{M}\p{N}@.+\-_]+$/u

/** A username as stored, and its case-insensitive uniqueness key. */
export interface NormalizedUsername {
  username: string
  usernameKey: string
}

/** Text of ASCII characters only. */
const ASCII = /^[\u0000-\u007F]*$/

/**
 * The uniqueness key of a username: NFKC, then Unicode full case folding, then NFKC again (case mapping can
 * denormalize). The folding maps to upper case and back to lower case, then folds the final sigma, so
 * `straße` = `STRASSE` and `ΟΔΟΣ` = `οδος`; it is Unicode's default case folding except that it also
 * folds the dotless `ı` onto `i` (a stricter uniqueness, never a looser one).
 */
export function usernameKey (username: string): string {
  // ASCII is its own NFKC, and upper then lower case is lower case: the common case skips ICU.
  if (ASCII.test(username)) return username.toLowerCase()
  return username.normalize('NFKC').toUpperCase().toLowerCase().replaceAll('\u03C2', '\u03C3').normalize('NFKC')
}

/**
 * The key that versions up to 0.1 stored: NFKC, lower-cased, NFKC again. A row whose folded key would have
 * clashed with another user's when its store was migrated keeps this one (see `UserDirectory`).
 */
export function legacyUsernameKey (username: string): string {
  return username.normalize('NFKC').toLowerCase().normalize('NFKC')
}

/** Characters (code points) of a username after NFKC, as sign-up and login both count them. */
export function usernameLength (username: string): number {
  let length = 0
  for (const _ of username.normalize('NFKC')) length++
  return length
}

/** Normalizes and checks a username at sign-up; throws `invalid_request` saying what is wrong. */
export function normalizeUsername (raw: string, maxLength: number): NormalizedUsername {
  const username = raw.normalize('NFKC')
  if (username.length === 0) throw new OAuth2Error('invalid_request', 'The username may not be blank.')
  if (usernameLength(username) > maxLength) {
    throw new OAuth2Error('invalid_request', `The username may have at most ${maxLength} characters.`)
  }
  if (!USERNAME.test(username)) {
    throw new OAuth2Error('invalid_request', 'The username may contain only letters, numbers, and @/./+/-/_ characters.')
  }
  return { username, usernameKey: usernameKey(username) }
}

/** Applies the password policy; throws `invalid_request` with the reason. */
export async function checkPassword (password: string, username: string, options: ResolvedOptions): Promise<void> {
  const { minLength, maxLength, validate } = options.passwordPolicy
  // A lone surrogate has no UTF-8 form: it would hash as U+FFFD and match any other such password.
  if (!password.isWellFormed()) throw new OAuth2Error('invalid_request', 'The password is not valid Unicode text.')
  const length = [...password].length
  if (length < minLength) {
    throw new OAuth2Error('invalid_request', `The password must have at least ${minLength} characters.`)
  }
  if (length > maxLength) {
    throw new OAuth2Error('invalid_request', `The password may have at most ${maxLength} characters.`)
  }
  if (validate === undefined) return
  const refusal = await validate(password, { username })
  if (typeof refusal === 'string') throw new OAuth2Error('invalid_request', refusal)
}
