import { ConfigErrorCode, OAuth2ConfigError } from './errors.js'
import type { HashingLimits } from './crypto/passwords.js'
import type { OAuth2Store } from './store/store.js'
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

/** Paths of the plugin's routes; `false` leaves a route out. Each also answers without its trailing slash. */
export interface RoutePaths {
  /** RFC 6749 token endpoint. Default `/o/token/`. */
  token?: string
  /** Sign-up. Default `/sign_up/`; `false` to turn sign-up off. */
  signUp?: string | false
}

/** Options of `app.register(oauth2, options)`. */
export interface OAuth2ServerOptions {
  /** Where users, clients and tokens live: a `KyselyStore`, a `MemoryStore`, or your own. Required. */
  store: OAuth2Store
  /** Seconds an access token lives. Default `3600` (Django OAuth Toolkit's default is `36000`). */
  accessTokenTtl?: number
  /** Seconds a refresh token lives; each refresh issues a new one with a fresh lifetime. Default 30 days. */
  refreshTokenTtl?: number
  /**
   * Seconds during which a just-rotated refresh token may be redeemed once more without being treated
   * as stolen (benign client races, e.g. two tabs). Default `0`: any reuse revokes the whole family.
   */
  refreshTokenReuseInterval?: number
  /** Every scope the server knows. Default `['read', 'write']`. */
  scopes?: string[]
  /** Scopes granted when a request asks for none. Default: all of `scopes`. */
  defaultScopes?: string[]
  /** Name of the request decorator holding the authenticated user. Default `'user'`. */
  decorator?: string
  /** The realm in `WWW-Authenticate` challenges. Default `'api'`. */
  realm?: string
  /** Route paths. */
  routes?: RoutePaths
  /** Password rules for sign-up. */
  passwordPolicy?: PasswordPolicy
  /** Longest accepted username, in characters. Default `150` (Django's), at most `1024`. */
  usernameMaxLength?: number
  /**
   * Bounds on password hashing: `concurrency` (default: the number of CPUs), `maxQueue` (default `256`,
   * enough for a burst of 100 concurrent logins to wait rather than fail), `retryAfter` seconds (default `1`).
   */
  hashing?: Partial<HashingLimits>
  /** Largest request body accepted by the plugin's routes, in bytes. Default `16384`. */
  bodyLimit?: number
  /** The clock, in milliseconds since the epoch. Default `Date.now`; tests pass their own. */
  now?: () => number
}

/** Options after defaults and validation; frozen. */
export interface ResolvedOptions {
  readonly store: OAuth2Store
  readonly accessTokenTtl: number
  readonly refreshTokenTtl: number
  readonly refreshTokenReuseInterval: number
  readonly scopes: readonly string[]
  readonly defaultScopes: readonly string[]
  readonly decorator: string
  readonly realm: string
  readonly routes: { readonly token: string, readonly signUp: string | false }
  readonly passwordPolicy: Readonly<Required<Omit<PasswordPolicy, 'validate'>>> & Pick<PasswordPolicy, 'validate'>
  readonly usernameMaxLength: number
  readonly hashing: Readonly<HashingLimits>
  readonly bodyLimit: number
  readonly now: () => number
}

const DAY = 86_400
/** The body schemas of the token and sign-up routes refuse longer passwords and usernames than these. */
export const MAX_PASSWORD_LENGTH = 4096
export const MAX_USERNAME_LENGTH = 1024
/** RFC 6749 §3.3 scope-token: printable ASCII but space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/
const STORE_METHODS = [
  'createUser', 'findUserByUsernameKey', 'findUserById', 'updatePasswordHash',
  'createClient', 'findClient', 'listClients', 'deleteClient', 'updateClientSecret',
  'createToken', 'findByAccessTokenHash', 'findByRefreshTokenHash', 'findChild', 'rotateRefreshToken',
  'revokeToken', 'revokeFamily', 'revokeUserTokens', 'deleteExpiredTokens'
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
  const signUp = routes.signUp === false ? false : path('routes.signUp', routes.signUp, '/sign_up/')
  // Each route also answers with (or without) its trailing slash, so '/a' and '/a/' are one path.
  if (signUp !== false && signUp.replace(/\/$/, '') === token.replace(/\/$/, '')) {
    fail('routes.signUp', 'another path than "routes.token"')
  }

  const policy = object('passwordPolicy', opts.passwordPolicy)
  const minLength = integer('passwordPolicy.minLength', policy.minLength, 8, 1, MAX_PASSWORD_LENGTH)
  const maxLength = integer('passwordPolicy.maxLength', policy.maxLength, 1024, minLength, MAX_PASSWORD_LENGTH)
  if (policy.validate !== undefined && typeof policy.validate !== 'function') fail('passwordPolicy.validate', 'a function')

  const hashing = object('hashing', opts.hashing)
  if (opts.now !== undefined && typeof opts.now !== 'function') fail('now', 'a function returning milliseconds')

  return Object.freeze({
    store,
    accessTokenTtl: integer('accessTokenTtl', opts.accessTokenTtl, 3600, 1),
    refreshTokenTtl: integer('refreshTokenTtl', opts.refreshTokenTtl, 30 * DAY, 1),
    refreshTokenReuseInterval: integer('refreshTokenReuseInterval', opts.refreshTokenReuseInterval, 0, 0),
    scopes,
    defaultScopes,
    decorator,
    realm: text('realm', opts.realm, 'api', /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/),
    routes: Object.freeze({ token, signUp }),
    passwordPolicy: Object.freeze({
      minLength,
      maxLength,
      validate: policy.validate as PasswordPolicy['validate']
    }),
    usernameMaxLength: integer('usernameMaxLength', opts.usernameMaxLength, 150, 1, MAX_USERNAME_LENGTH),
    hashing: Object.freeze({
      concurrency: integer('hashing.concurrency', hashing.concurrency, Math.max(1, availableParallelism()), 1),
      maxQueue: integer('hashing.maxQueue', hashing.maxQueue, 256, 0),
      retryAfter: integer('hashing.retryAfter', hashing.retryAfter, 1, 0)
    }),
    bodyLimit: integer('bodyLimit', opts.bodyLimit, 16_384, 256),
    now: (opts.now as (() => number) | undefined) ?? Date.now
  })
}
