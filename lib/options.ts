import { ConfigErrorCode, OAuth2ConfigError } from './errors.js'
import { SCOPE_TOKEN } from './scopes.js'
import type { HashingLimits } from './crypto/passwords.js'
import type { TokenCacheLimits } from './auth/token-cache.js'
import { isTestHashing, type TestHashing } from './internals.js'
import { validateUserSource, type AppUser, type UserSource } from './auth/user-source.js'
import type { OAuth2Store } from './store/store.js'
import type { ConsentPageView, LoginPageView } from './html/pages.js'
import type { OAuth2ServerTypes, OAuth2User } from './types.js'
import { availableParallelism } from 'node:os'

/** What the app's own password rule sees. */
export interface PasswordContext {
  /** The normalized username being signed up. */
  username: string
}

/** Password rules applied at sign-up. */
export interface PasswordPolicy {
  /** Fewest characters (Unicode code points). Default `8`. */
  minLength?: number
  /** Most characters; bounds the hashing work an attacker can ask for. Default `1024`, at most `4096`. */
  maxLength?: number
  /**
   * The app's own rule, run after the length checks: return (or resolve to) a message to refuse the
   * password with, or `undefined` to accept it. The message is sent to the client as `error_description`.
   */
  validate?: (password: string, context: PasswordContext) => string | undefined | Promise<string | undefined>
}

/**
 * Paths of the plugin's routes, under the prefix the plugin is registered with; `false` leaves a route out.
 * Each POST route also answers without (or with) its trailing slash; the metadata route answers on its
 * exact path only.
 */
export interface RoutePaths {
  /** RFC 6749 token endpoint. Default `/o/token/`. */
  token?: string
  /** Sign-up. Default `/sign_up/`; `false` to turn sign-up off. */
  signUp?: string | false
  /** RFC 7009 token revocation. Default `/o/revoke_token/`; `false` to turn it off. */
  revoke?: string | false
  /** RFC 7662 token introspection, for confidential clients. Default `/o/introspect/`; `false` to turn it off. */
  introspect?: string | false
  /**
   * RFC 6749 §4.1 authorization endpoint (GET; the login and consent forms POST to it), with its login
   * page and session. Default `/o/authorize/`; `false` turns the authorization code grant off.
   */
  authorize?: string | false
  /** Ends the user's session at the authorization server (POST). Default `/o/logout/`; off with `authorize`. */
  logout?: string | false
  /** RFC 8414 authorization server metadata (GET). Default `/.well-known/oauth-authorization-server`; `false` to turn it off. */
  metadata?: string | false
}

/**
 * The `users` option, typed by the user shape the app declares (`OAuth2ServerTypes['user']`): optional while
 * `{ id, username }` (what the store gives) satisfies it, required once it asks for more, since then only
 * the app's own users can produce it.
 */
export type UsersOption = AppUser extends OAuth2User
  ? {
      /**
       * The app's own users, for an app that keeps its users table: the password grant, the guard and the
       * refresh grant ask it instead of `store`, while clients and tokens stay in `store`. Sign-up calls
       * `users.create`, and is off without it. Default: none (users live in `store`). See `UserSource`.
       */
      users?: UserSource<OAuth2User>
    }
  : {
      /**
       * The app's own users (see `UserSource`): required, because the user type declared in
       * `OAuth2ServerTypes` has fields the store's `{ id, username }` lacks. `findById` gives `request.user`.
       */
      users: UserSource<OAuth2User>
    }

/**
 * The `decorator` option, tied to the name the app declares (`OAuth2ServerTypes['decorator']`): any name
 * while none is declared, and then required and equal to it.
 */
export type DecoratorOption = OAuth2ServerTypes extends { decorator: infer Name extends string }
  ? {
      /** Name of the request decorator holding the authenticated user: the one declared in `OAuth2ServerTypes`. */
      decorator: Name
    }
  : {
      /**
       * Name of the request decorator holding the authenticated user. Default `'user'`. Declare the same name
       * as `decorator` in `OAuth2ServerTypes` to have TypeScript type it.
       */
      decorator?: string
    }

/** Options of `app.register(oauth2, options)`. */
export interface OAuth2ServerOptions extends UsersOption, DecoratorOption {
  /** Where users, clients and tokens live: a `KyselyStore`, a `MemoryStore`, or your own. Required. */
  store: OAuth2Store
  /** Seconds an access token lives. Default `3600` (Django OAuth Toolkit's default is `36000`). */
  accessTokenTtl?: number
  /** Seconds a refresh token lives; each refresh issues a new one with a fresh lifetime. Default 30 days. */
  refreshTokenTtl?: number
  /**
   * Seconds after its rotation during which a refresh token may still be exchanged, up to
   * `MAX_REFRESH_EXCHANGES` times in all, without being treated as stolen: a client racing itself (two tabs
   * refreshing at once, a request retried after a lost answer) stays logged in, and every pair it gets
   * works and refreshes onward. Presented after that, the token ends its whole family (RFC 9700 §4.14.2).
   * Default `5`; `0` turns the window off (any second exchange ends the family).
   */
  refreshTokenReuseInterval?: number
  /** Every scope the server knows. Default `['read', 'write']`. */
  scopes?: string[]
  /** Scopes granted when a request asks for none. Default: all of `scopes`. */
  defaultScopes?: string[]
  /** The realm in `WWW-Authenticate` challenges. Default `'api'`. */
  realm?: string
  /** Route paths (each member documents its default); the plugin's `prefix` comes before each. */
  routes?: RoutePaths
  /**
   * The RFC 8414 issuer identifier: an `https` URL without query or fragment, e.g.
   * `https://auth.example.com`. The metadata lists every endpoint as this URL followed by the route's path,
   * and is also served at the metadata path followed by this URL's path (RFC 8414 §3.1).
   * Default: none, and the metadata derives it from each request's protocol and host, followed by the
   * registration prefix (uncached); set it in production, where a proxy may rewrite the host.
   */
  issuer?: string
  /** Seconds an authorization code lives (it is exchanged once). Default `60`, at most `600`. */
  authorizationCodeTtl?: number
  /** Seconds a session at the authorization server (its login page's cookie) lives. Default `86400` (a day). */
  sessionTtl?: number
  /**
   * The app's own login and consent pages: functions returning the page's HTML from a view (the form's
   * action, its CSRF token, the message to show…). The plugin still checks the CSRF token and throttles
   * the logins; escape every value with `escapeHtml`. Default: the plugin's own pages.
   */
  pages?: AuthorizationPages
  /** Password rules for sign-up. Default `{ minLength: 8, maxLength: 1024 }` and no `validate`. */
  passwordPolicy?: PasswordPolicy
  /** Longest accepted username, in characters. Default `150` (Django's), at most `1024`. */
  usernameMaxLength?: number
  /**
   * Bounds on password hashing: `lowPriority` (default `true` on Linux: hash in worker threads at the lowest
   * OS priority, so that logins can use every core while the event loop keeps its own), `concurrency`
   * (default: every CPU with `lowPriority`; otherwise one less than the CPUs, at most one less than libuv's
   * thread pool `UV_THREADPOOL_SIZE` (4 unless set), at least 1; see `defaultHashingConcurrency`), `maxQueue`
   * (default `256`, enough for a burst of 100 concurrent logins to wait rather than fail), `retryAfter`
   * seconds (default `1`).
   */
  hashing?: Partial<HashingLimits>
  /**
   * Brute-force defence, with its state in the store (so it holds across instances): failed password
   * logins per (username, client IP) and per client IP, and sign-ups per client IP, each counted in a
   * window; past a limit the route answers 429 with `Retry-After` without hashing anything. The client
   * IP is `request.ip`: behind a proxy set Fastify's `trustProxy`. `false` turns it off (for load tests
   * and black-box test runs only). Default `{ loginFailuresPerUser: 5, loginFailuresPerIp: 50,
   * signUpsPerIp: 10, window: 900 }` (window in seconds).
   */
  throttle?: Partial<ThrottleLimits> | false
  /**
   * An in-process cache of verified access tokens, so that a hit spares the bearer check its store lookup:
   * at most `max` tokens (least recently used go first), each trusted for at most `ttl` seconds and never
   * past its expiry. A revocation made by this process (refresh rotation, reuse detection, the revocation
   * endpoint, `revokeUserTokens`) takes effect at once; one made by another server instance or the CLI
   * takes effect here at once too where the store reports it (`watchRevocations`: `KyselyStore.open` on
   * PostgreSQL or SQLite), within `ttl` seconds elsewhere. `true` for the defaults `{ max: 10000, ttl: 5 }`;
   * `ttl` is at most `300`. Default: on (`true`) where the store has `watchRevocations`, off elsewhere.
   */
  tokenCache?: Partial<TokenCacheLimits> | boolean
  /** Largest request body accepted by the plugin's routes, in bytes. Default `16384`. */
  bodyLimit?: number
  /**
   * Deletes expired tokens and ended throttle counters in this process every `interval` seconds, in
   * batches of `batchSize` (default `1000`) that yield to the event loop, so the API keeps answering while
   * millions of rows go. Default `false` (off): run `fastify-oauth2-server tokens clear` from a scheduler
   * instead, or turn this on in one instance.
   */
  cleanup?: { interval: number, batchSize?: number } | false
  /** The clock, in milliseconds since the epoch. Default `Date.now`; tests pass their own. */
  now?: () => number
  /**
   * Cheap password hashing, for tests only: `testHashing` from `fastify-oauth2-server/testing` (argon2id
   * with the least work argon2 allows), nothing else. Refused when `NODE_ENV` is `production`. Default:
   * none (argon2id at the pinned OWASP parameters).
   */
  testHashing?: TestHashing
}

/** The pages of the authorization endpoint, each a function from its view to HTML. */
export interface AuthorizationPages {
  /** The login form: a `<form method="post">` to `view.action` with `username`, `password` and `view.csrfField`. */
  login?: (view: LoginPageView) => string
  /** The consent form: a `<form method="post">` to `view.action` with `view.csrfField` and `consent=approve|deny`. */
  consent?: (view: ConsentPageView) => string
}

/** Limits of the brute-force defence; each counter lives for one `window`. */
export interface ThrottleLimits {
  /** Failed logins per (username, client IP) per window. Default `5`. */
  loginFailuresPerUser: number
  /** Failed logins per client IP per window, whatever the usernames. Default `50`. */
  loginFailuresPerIp: number
  /** Sign-ups (attempts) per client IP per window. Default `10`. */
  signUpsPerIp: number
  /** Seconds a window lasts. Default `900`. */
  window: number
}

function resolveThrottle (throttle: Record<string, unknown>): Readonly<ThrottleLimits> {
  return Object.freeze({
    loginFailuresPerUser: integer('throttle.loginFailuresPerUser', throttle.loginFailuresPerUser, 5, 1),
    loginFailuresPerIp: integer('throttle.loginFailuresPerIp', throttle.loginFailuresPerIp, 50, 1),
    signUpsPerIp: integer('throttle.signUpsPerIp', throttle.signUpsPerIp, 10, 1),
    window: integer('throttle.window', throttle.window, 900, 1)
  })
}

/** Options after defaults and validation; frozen. */
export interface ResolvedOptions {
  readonly store: OAuth2Store
  /** `null`: users live in `store`. */
  readonly users: UserSource | null
  readonly accessTokenTtl: number
  readonly refreshTokenTtl: number
  readonly refreshTokenReuseInterval: number
  readonly scopes: readonly string[]
  readonly defaultScopes: readonly string[]
  readonly decorator: string
  readonly realm: string
  readonly routes: {
    readonly token: string
    readonly signUp: string | false
    readonly revoke: string | false
    readonly introspect: string | false
    readonly authorize: string | false
    readonly logout: string | false
    readonly metadata: string | false
  }
  readonly authorizationCodeTtl: number
  readonly sessionTtl: number
  readonly pages: Readonly<AuthorizationPages>
  /** `null`: derived per request. */
  readonly issuer: string | null
  readonly passwordPolicy: Readonly<Required<Omit<PasswordPolicy, 'validate'>>> & Pick<PasswordPolicy, 'validate'>
  readonly usernameMaxLength: number
  readonly hashing: Readonly<HashingLimits>
  /** `null`: throttling off. */
  readonly throttle: Readonly<ThrottleLimits> | null
  readonly tokenCache: Readonly<TokenCacheLimits> | false
  readonly bodyLimit: number
  readonly cleanup: Readonly<{ interval: number, batchSize: number }> | null
  readonly now: () => number
  /** `null`: production hashing. */
  readonly testHashing: TestHashing | null
}

const DAY = 86_400
/**
 * Most exchanges of one refresh token: its rotation, then up to four more inside the reuse window (two
 * tabs and a retry, with room to spare). Past it a racing request gets `invalid_grant`, and the family lives.
 */
export const MAX_REFRESH_EXCHANGES = 5
/** Longest `refreshTokenReuseInterval`, in seconds: the window delays the detection of a stolen token. */
export const MAX_REFRESH_REUSE_INTERVAL = 300
/** The body schemas of the token and sign-up routes refuse longer passwords and usernames than these. */
export const MAX_PASSWORD_LENGTH = 4096
export const MAX_USERNAME_LENGTH = 1024
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/
const STORE_METHODS = [
  'createUser', 'findUserByUsernameKey', 'findUserById', 'updatePasswordHash',
  'createClient', 'findClient', 'listClients', 'deleteClient', 'updateClientSecret',
  'createToken', 'findByAccessTokenHash', 'findByRefreshTokenHash', 'rotateRefreshToken',
  'revokeToken', 'revokeFamily', 'revokeClientTokens', 'revokeUserTokens', 'deleteExpiredTokens',
  'hitThrottle', 'getThrottle', 'clearThrottle', 'deleteExpiredThrottles',
  'createAuthorizationCode', 'findAuthorizationCode', 'redeemAuthorizationCode',
  'createSession', 'findSession', 'deleteSession', 'deleteUserSessions', 'deleteExpiredCodesAndSessions'
] as const

function fail (option: string, expected: string): never {
  throw new OAuth2ConfigError(ConfigErrorCode.INVALID_OPTION, `fastify-oauth2-server: option "${option}" must be ${expected}`)
}

function integer (option: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(option, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`)
  }
  return value
}

function text (option: string, value: unknown, fallback: string, pattern: RegExp): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !pattern.test(value)) fail(option, `a string matching ${String(pattern)}`)
  return value
}

function path (option: string, value: unknown, fallback: string): string {
  return text(option, value, fallback, /^\/[^\s?#]*$/)
}

/** RFC 8414 §2: an `https` URL with no query or fragment (and no credentials); kept as given. */
function issuerUrl (value: unknown): string | null {
  if (value === undefined) return null
  const expected = 'an https URL without query, fragment or credentials (RFC 8414 §2)'
  if (typeof value !== 'string' || /[\s?#]/.test(value) || !URL.canParse(value)) fail('issuer', expected)
  const url = new URL(value)
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '') fail('issuer', expected)
  return value
}

function scopeList (option: string, value: unknown, fallback: readonly string[]): readonly string[] {
  if (value === undefined) return fallback
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string' && SCOPE_TOKEN.test(s))) {
    fail(option, 'an array of RFC 6749 scope tokens (printable ASCII, no spaces)')
  }
  return Object.freeze([...new Set(value as string[])])
}

function object (option: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(option, 'an object')
  return value as Record<string, unknown>
}

/** Where a thread can lower its own priority (the nice value is per thread on Linux): the default there. */
const LOW_PRIORITY_BY_DEFAULT = process.platform === 'linux'

/**
 * The default `hashing.concurrency` without `lowPriority`: a CPU fewer than the machine has, so that the event loop keeps a core
 * for every other route while logins saturate the rest (on two cores a second hash adds next to no logins
 * per second: the event loop and the memory-hard hashes compete for the same cores and caches); and a
 * thread fewer than libuv's pool (argon2 runs there), so that file and DNS work never waits behind hashes.
 * At least 1. Raise `UV_THREADPOOL_SIZE` (before the process starts) to let many cores hash at once.
 */
export function defaultHashingConcurrency (cpus = availableParallelism(), threadPool = Number(process.env.UV_THREADPOOL_SIZE) || 4): number {
  return Math.max(1, Math.min(cpus - 1, threadPool - 1))
}

/** Longest `tokenCache.ttl`, in seconds: the cache is for short trust, not a second token store. */
export const MAX_TOKEN_CACHE_TTL = 300

/**
 * The token cache: as asked, or by default on where the store reports other processes' revocations at once
 * (`watchRevocations`: `KyselyStore.open` on PostgreSQL or SQLite), off elsewhere.
 */
function tokenCacheLimits (value: unknown, store: OAuth2Store): Readonly<TokenCacheLimits> | false {
  if (value === undefined) return typeof store.watchRevocations === 'function' ? tokenCacheLimits(true, store) : false
  if (value === false) return false
  const limits = object('tokenCache', value === true ? {} : value)
  return Object.freeze({
    max: integer('tokenCache.max', limits.max, 10_000, 1),
    ttl: integer('tokenCache.ttl', limits.ttl, 5, 1, MAX_TOKEN_CACHE_TTL)
  })
}

/**
 * Cheap hashing is reachable only through the testing kit's own object: no string, number or environment
 * variable turns it on, so a mistaken option or a stray variable cannot weaken a production app's hashes.
 * `NODE_ENV=production` can only turn it off.
 */
function testHashingOption (value: unknown): TestHashing | null {
  if (value === undefined) return null
  if (!isTestHashing(value)) fail('testHashing', 'the testHashing object of fastify-oauth2-server/testing (or left out)')
  if (process.env.NODE_ENV === 'production') fail('testHashing', 'left out when NODE_ENV is "production": it is for tests only')
  return value
}

function cleanupSchedule (value: unknown): Readonly<{ interval: number, batchSize: number }> | null {
  if (value === undefined || value === false) return null
  const cleanup = object('cleanup', value)
  if (cleanup.interval === undefined) fail('cleanup.interval', 'an integer >= 1 (seconds)')
  return Object.freeze({
    interval: integer('cleanup.interval', cleanup.interval, 0, 1),
    batchSize: integer('cleanup.batchSize', cleanup.batchSize, 1000, 1)
  })
}

/** Applies the defaults and checks every option; throws `OAuth2ConfigError` naming the first bad one. */
export function resolveOptions (options: OAuth2ServerOptions): ResolvedOptions {
  const opts = object('options', options)
  const store = opts.store as OAuth2Store | undefined
  if (typeof store !== 'object' || store === null) fail('store', 'a store (MemoryStore, KyselyStore or your own)')
  for (const method of STORE_METHODS) {
    if (typeof store[method] !== 'function') fail('store', `a store implementing ${method}()`)
  }

  const scopes = scopeList('scopes', opts.scopes, ['read', 'write'])
  if (scopes.length === 0) fail('scopes', 'a non-empty array')
  const defaultScopes = scopeList('defaultScopes', opts.defaultScopes, scopes)
  const unknown = defaultScopes.find((s) => !scopes.includes(s))
  if (unknown !== undefined) fail('defaultScopes', `a subset of "scopes" ("${unknown}" is not in it)`)

  const decorator = text('decorator', opts.decorator, 'user', IDENTIFIER)
  if (decorator === 'oauth') fail('decorator', 'another name than "oauth" (the plugin decorates that itself)')

  const routes = object('routes', opts.routes)
  const token = path('routes.token', routes.token, '/o/token/')
  const users = validateUserSource(opts.users, fail)
  // The app's own users without users.create: nobody can sign up here, so the route is off.
  const canSignUp = users === null || users.create !== undefined
  if (!canSignUp && routes.signUp !== undefined && routes.signUp !== false) {
    fail('routes.signUp', 'false or left out when "users" has no create()')
  }
  const signUp = routes.signUp === false || !canSignUp ? false : path('routes.signUp', routes.signUp, '/sign_up/')
  const revoke = routes.revoke === false ? false : path('routes.revoke', routes.revoke, '/o/revoke_token/')
  const introspect = routes.introspect === false ? false : path('routes.introspect', routes.introspect, '/o/introspect/')
  const metadata = routes.metadata === false ? false : path('routes.metadata', routes.metadata, '/.well-known/oauth-authorization-server')
  const authorize = routes.authorize === false ? false : path('routes.authorize', routes.authorize, '/o/authorize/')
  const logout = routes.logout === false || authorize === false ? false : path('routes.logout', routes.logout, '/o/logout/')
  // Each POST route also answers with (or without) its trailing slash, so '/a' and '/a/' are one path.
  const posts: Array<[string, string | false]> = [
    ['routes.token', token], ['routes.signUp', signUp], ['routes.revoke', revoke], ['routes.introspect', introspect],
    ['routes.authorize', authorize], ['routes.logout', logout]
  ]
  posts.forEach(([option, value], i) => {
    const clash = value === false ? undefined : posts.slice(0, i).find(([, other]) => other !== false && other.replace(/\/$/, '') === value.replace(/\/$/, ''))
    if (clash !== undefined) fail(option, `another path than "${clash[0]}"`)
  })

  const policy = object('passwordPolicy', opts.passwordPolicy)
  const minLength = integer('passwordPolicy.minLength', policy.minLength, 8, 1, MAX_PASSWORD_LENGTH)
  const maxLength = integer('passwordPolicy.maxLength', policy.maxLength, 1024, minLength, MAX_PASSWORD_LENGTH)
  if (policy.validate !== undefined && typeof policy.validate !== 'function') fail('passwordPolicy.validate', 'a function')

  const pages = object('pages', opts.pages)
  for (const page of ['login', 'consent']) {
    if (pages[page] !== undefined && typeof pages[page] !== 'function') fail(`pages.${page}`, 'a function returning HTML')
  }

  const hashing = object('hashing', opts.hashing)
  if (hashing.lowPriority !== undefined && typeof hashing.lowPriority !== 'boolean') fail('hashing.lowPriority', 'a boolean')
  const lowPriority = (hashing.lowPriority as boolean | undefined) ?? LOW_PRIORITY_BY_DEFAULT
  if (opts.now !== undefined && typeof opts.now !== 'function') fail('now', 'a function returning milliseconds')

  return Object.freeze({
    store,
    users,
    accessTokenTtl: integer('accessTokenTtl', opts.accessTokenTtl, 3600, 1),
    refreshTokenTtl: integer('refreshTokenTtl', opts.refreshTokenTtl, 30 * DAY, 1),
    refreshTokenReuseInterval: integer('refreshTokenReuseInterval', opts.refreshTokenReuseInterval, 5, 0, MAX_REFRESH_REUSE_INTERVAL),
    scopes,
    defaultScopes,
    decorator,
    realm: text('realm', opts.realm, 'api', /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/),
    routes: Object.freeze({ token, signUp, revoke, introspect, authorize, logout, metadata }),
    authorizationCodeTtl: integer('authorizationCodeTtl', opts.authorizationCodeTtl, 60, 1, 600),
    sessionTtl: integer('sessionTtl', opts.sessionTtl, DAY, 60),
    pages: Object.freeze({ ...pages } as AuthorizationPages),
    issuer: issuerUrl(opts.issuer),
    passwordPolicy: Object.freeze({
      minLength,
      maxLength,
      validate: policy.validate as PasswordPolicy['validate']
    }),
    usernameMaxLength: integer('usernameMaxLength', opts.usernameMaxLength, 150, 1, MAX_USERNAME_LENGTH),
    throttle: opts.throttle === false ? null : resolveThrottle(object('throttle', opts.throttle)),
    hashing: Object.freeze({
      lowPriority,
      concurrency: integer('hashing.concurrency', hashing.concurrency, lowPriority ? availableParallelism() : defaultHashingConcurrency(), 1),
      maxQueue: integer('hashing.maxQueue', hashing.maxQueue, 256, 0),
      retryAfter: integer('hashing.retryAfter', hashing.retryAfter, 1, 0)
    }),
    tokenCache: tokenCacheLimits(opts.tokenCache, store),
    bodyLimit: integer('bodyLimit', opts.bodyLimit, 16_384, 256),
    cleanup: cleanupSchedule(opts.cleanup),
    now: (opts.now as (() => number) | undefined) ?? Date.now,
    testHashing: testHashingOption(opts.testHashing)
  })
}
