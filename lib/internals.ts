/**
 * What the plugin shares with its testing kit (`fastify-oauth2-server/testing`) and with nobody else.
 *
 * Why a WeakMap keyed by `app.oauth2` rather than a property on it (even a non-enumerable symbol one): a
 * property is reachable by any code holding the app (`Object.getOwnPropertySymbols`, a debugger, a
 * serializer), and would hand out the store and the resolved options. This module is not reachable from
 * the package's public entry points except through the kit's functions (the `exports` map publishes `.` and
 * `./testing` only), the public `OAuth2ServerApi` type stays as it is, and an app that is dropped takes its
 * entry with it.
 */
import type { Argon2Parameters } from './crypto/passwords.js'
import type { ResolvedOptions } from './options.js'
import type { OAuth2ServerApi } from './types.js'

/** What the testing kit needs of one plugin instance. */
export interface PluginInternals {
  readonly options: ResolvedOptions
}

const plugins = new WeakMap<OAuth2ServerApi, PluginInternals>()

/** Called once by the plugin, with the object it decorates the app with. */
export function exposeInternals (api: OAuth2ServerApi, internals: PluginInternals): void {
  plugins.set(api, Object.freeze(internals))
}

/** The internals behind `app.oauth2`, or `undefined` when it is not this plugin's (or not there at all). */
export function internalsOf (api: unknown): PluginInternals | undefined {
  return typeof api === 'object' && api !== null ? plugins.get(api as OAuth2ServerApi) : undefined
}

declare const testHashingBrand: unique symbol

/**
 * Cheap password hashing for tests (the `testHashing` option). Only the object exported by
 * `fastify-oauth2-server/testing` is one: the type is branded (no object literal compiles as one), and
 * the plugin checks the very object at registration (a copy or a look-alike is refused).
 */
export interface TestHashing {
  /** argon2id parameters of the hashes made under it. */
  readonly argon2: Readonly<Argon2Parameters>
  readonly [testHashingBrand]: true
}

const testHashings = new WeakSet<object>()

/** Brands the testing kit's hashing object; only `lib/testing/` calls this. */
export function brandTestHashing (argon2: Argon2Parameters): TestHashing {
  const hashing = Object.freeze({ argon2: Object.freeze({ ...argon2 }) }) as unknown as TestHashing
  testHashings.add(hashing)
  return hashing
}

/** Whether a value is the testing kit's own hashing object. */
export function isTestHashing (value: unknown): value is TestHashing {
  return typeof value === 'object' && value !== null && testHashings.has(value)
}
