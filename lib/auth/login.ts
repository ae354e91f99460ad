import { invalidCredentials, OAuth2Error } from '../errors.js'
import type { RouteContext } from '../routes/context.js'
import { usernameKey } from '../users.js'

/**
 * Checks a username and password for the password grant (and any other login form of the plugin), and
 * resolves to the user's id. In order: text that is not valid Unicode is refused (`invalid_request`: no
 * password can contain it, and it would hash as U+FFFD); the attempt is counted by the throttle, atomically,
 * and refused with 429 past a limit before any hash; then the password is checked, with the same answer
 * (`invalid_grant`) after the same work for an unknown user and a wrong password. A success forgets the
 * (username, IP)'s failures. An attempt that could not be checked (the hashing queue was full, the store
 * failed) is taken back, so that an outage does not lock users out.
 */
export async function logIn (ctx: RouteContext, username: string, password: string, ip: string): Promise<string> {
  if (!username.isWellFormed() || !password.isWellFormed()) {
    throw new OAuth2Error('invalid_request', 'The username and password must be valid Unicode text.')
  }
  const key = usernameKey(username)
  const attempt = await ctx.throttle?.loginAttempt(key, ip)
  let userId: string | null
  try {
    userId = await ctx.users.logIn(username, password)
  } catch (err) {
    await attempt?.unchecked().catch(() => {})
    throw err
  }
  if (userId === null) throw invalidCredentials()
  await attempt?.succeeded()
  return userId
}
