import { ARGON2_ALGORITHM_ID } from '../crypto/passwords.js'
import { brandTestHashing, type TestHashing } from '../internals.js'

/**
 * Password hashing for tests: argon2id with the least work argon2 allows (8 KiB, one pass) instead of the
 * pinned 19 MiB and two passes. Pass it as the plugin's `testHashing` option.
 *
 * Safe by construction: this object is the only way in. The plugin recognises it by identity (not by its
 * shape, not by a string, number or environment variable), it lives in this subpath that the main entry
 * never loads, and registration refuses it when `NODE_ENV` is `production`. Its hashes are ordinary
 * argon2id PHC strings: a production app verifies them, and re-hashes them at the pinned OWASP parameters
 * at the user's next login, as it does any hash with other parameters.
 */
export const testHashing: TestHashing = brandTestHashing({
  algorithm: ARGON2_ALGORITHM_ID,
  memoryCost: 8,
  timeCost: 1,
  parallelism: 1
})
