import type { FastifyInstance } from 'fastify'
import { guardFactory } from './auth/bearer.js'
import { PasswordHasher } from './crypto/passwords.js'
import { ConfigErrorCode, OAuth2ConfigError } from './errors.js'
import { resolveOptions, type OAuth2ServerOptions } from './options.js'
import { prepareContext } from './routes/common.js'
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
  const hasher = new PasswordHasher(options.hashing)

  const api: OAuth2ServerApi = {
    authenticate: guardFactory(options),
    revokeUserTokens: async (userId) => options.store.revokeUserTokens(userId, options.now())
  }
  app.decorate('oauth2', api)

  // The routes live in their own encapsulated context: their parsers, hooks and error rendering stay there.
  await app.register(async (scope) => {
    await prepareContext(scope, options.bodyLimit)
    tokenRoute(scope, options, hasher)
    if (options.routes.signUp !== false) signUpRoute(scope, options, hasher, options.routes.signUp)
  })
}
