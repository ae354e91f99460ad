import type { FastifyInstance } from 'fastify'
import { guardFactory } from './auth/bearer.js'
import { startPeriodicCleanup } from './cleanup.js'
import { oauth2ErrorHandler } from './auth/error-handler.js'
import { TokenCache } from './auth/token-cache.js'
import { PasswordHasher } from './crypto/passwords.js'
import { ConfigErrorCode, OAuth2ConfigError } from './errors.js'
import { exposeInternals } from './internals.js'
import { resolveOptions, type OAuth2ServerOptions } from './options.js'
import { authorizeRoutes, prepareBrowserContext } from './routes/authorize.js'
import { prepareContext } from './routes/common.js'
import { routeContext } from './routes/context.js'
import { browserOrigins } from './routes/cors.js'
import { introspectRoute } from './routes/introspect.js'
import { issuerMetadataRoute, metadataRoute } from './routes/metadata.js'
import { revokeRoute } from './routes/revoke.js'
import { signUpRoute } from './routes/sign-up.js'
import { tokenRoute } from './routes/token.js'
import type { OAuth2ServerApi } from './types.js'

function claimRequestDecorator (app: FastifyInstance, name: string, remedy: string): void {
  if (app.hasRequestDecorator(name)) {
    throw new OAuth2ConfigError(ConfigErrorCode.DECORATOR_TAKEN,
      `fastify-oauth2-server: the request decorator "${name}" is already taken (by another plugin?); ${remedy}`)
  }
  app.decorateRequest(name, null)
}

/** The plugin body; `index.ts` wraps it with fastify-plugin so the decorators reach the app. */
export async function oauth2Server (app: FastifyInstance, opts: OAuth2ServerOptions): Promise<void> {
  const options = resolveOptions(opts)
  claimRequestDecorator(app, 'oauth', 'this plugin needs "oauth": rename the other decorator, or register the plugin in a context without it')
  claimRequestDecorator(app, options.decorator, 'choose another name with the "decorator" option')
  const hasher = new PasswordHasher(options.hashing, options.testHashing?.argon2)
  app.addHook('onClose', async () => { await hasher.close() })
  // Verified access tokens (option `tokenCache`; holds nothing when off). Every revocation this plugin
  // makes drops the matching entries through it.
  const tokenCache = new TokenCache(options.tokenCache)

  const guards = guardFactory(options, tokenCache)
  // What every route shares, built once: the store and users reporting their failures, the throttle, …
  const context = routeContext(options, hasher, tokenCache)
  const api: OAuth2ServerApi = {
    authenticate: guards.authenticate,
    verifyBearer: guards.verifyBearer,
    errorHandler: oauth2ErrorHandler,
    revokeUserTokens: async (userId) => {
      // Sessions and pending codes first: a code redeemed meanwhile has its tokens in the store by the
      // time they are revoked.
      await options.store.deleteUserSessions(userId)
      const revoked = await options.store.revokeUserTokens(userId, options.now())
      tokenCache.invalidateUser(userId)
      return revoked
    }
  }
  app.decorate('oauth2', api)

  // Revocations made by other instances or the CLI reach this cache at once, where the store can tell.
  const watch = options.store.watchRevocations
  if (tokenCache.enabled && watch !== undefined) {
    const stop = await watch.call(options.store, (event) => tokenCache.apply(event))
    app.addHook('onClose', async () => { await stop() })
  }

  if (options.cleanup !== null) {
    const { interval, batchSize } = options.cleanup
    const cleanup = startPeriodicCleanup(context.store, {
      intervalSeconds: interval,
      batchSize,
      now: options.now,
      onError: (err) => app.log.error({ err }, 'fastify-oauth2-server: the periodic cleanup failed'),
      onDone: (deleted) => app.log.debug(deleted, 'fastify-oauth2-server: expired rows deleted')
    })
    app.addHook('onClose', async () => { await cleanup.stop() })
  }
  // For fastify-oauth2-server/testing only (see internals.ts): nothing is added to `api` itself.
  exposeInternals(api, { options })

  // The routes live in their own encapsulated context: their parsers, hooks and error rendering stay there.
  // Fastify ignores `prefix` for a fastify-plugin plugin like this one: pass it on to the routes' context.
  const { prefix } = opts as { prefix?: string }
  let routesPrefix = ''
  await app.register(async (scope) => {
    routesPrefix = scope.prefix
    await prepareContext(scope, options.bodyLimit)
    // CORS with credentials on the token and revocation routes, for browser clients' origins only.
    const origins = browserOrigins(context.store)
    tokenRoute(scope, context, origins)
    if (options.routes.signUp !== false) signUpRoute(scope, context, options.routes.signUp)
    if (options.routes.revoke !== false) revokeRoute(scope, context, options.routes.revoke, origins)
    if (options.routes.introspect !== false) introspectRoute(scope, context, options.routes.introspect)
    if (options.routes.metadata !== false) metadataRoute(scope, options, options.routes.metadata)
  }, { prefix })
  // The browser's routes answer in HTML and take their parameters in the query: a context of their own.
  const { authorize, logout } = options.routes
  if (authorize !== false) {
    await app.register(async (scope) => {
      await prepareBrowserContext(scope, options.bodyLimit)
      authorizeRoutes(scope, context, authorize, logout)
    }, { prefix })
  }
  if (options.routes.metadata !== false) await issuerMetadataRoute(app, options, options.routes.metadata, routesPrefix)
}
