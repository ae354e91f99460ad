import { TokenCache } from '../auth/token-cache.js'
import { userDirectory, type UserDirectory } from '../auth/user-directory.js'
import type { PasswordHasher } from '../crypto/passwords.js'
import { reportingFailures } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import type { OAuth2Store } from '../store/store.js'
import { Throttle } from '../throttle.js'

/**
 * What every route of one plugin registration shares, built once at registration: the options, the store
 * and the user directory (their failures reported as `StoreFailure`, so the error handler can tell an
 * outage from a bug), the throttle, the hasher and the token cache.
 */
export interface RouteContext {
  /** The resolved options, with `store` and `users` reporting their failures. */
  readonly options: ResolvedOptions
  readonly store: OAuth2Store
  readonly users: UserDirectory
  /** `null` with `throttle: false`. */
  readonly throttle: Throttle | null
  readonly hasher: PasswordHasher
  readonly tokenCache: TokenCache
}

/** The context of one registration. */
export function routeContext (resolved: ResolvedOptions, hasher: PasswordHasher, tokenCache = new TokenCache(false)): RouteContext {
  const store = reportingFailures(resolved.store)
  const options: ResolvedOptions = Object.freeze({
    ...resolved,
    store,
    users: resolved.users === null ? null : reportingFailures(resolved.users)
  })
  return Object.freeze({
    options,
    store,
    users: userDirectory(options, hasher),
    throttle: options.throttle === null ? null : new Throttle(store, options.throttle, options.now),
    hasher,
    tokenCache
  })
}
