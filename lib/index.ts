import fp from 'fastify-plugin'
import { oauth2Server } from './plugin.js'

export type {
  BearerStrategy,
  GuardOptions,
  OAuth2RequestContext,
  OAuth2ServerApi,
  OAuth2ServerTypes,
  OAuth2User,
  OAuth2UserDecorator,
  OAuth2UserProperty
} from './types.js'
export type { AuthorizationPages, DecoratorOption, OAuth2ServerOptions, PasswordContext, PasswordPolicy, RoutePaths, UsersOption } from './options.js'
export type { ConsentPageView, FormPageView, LoginPageView } from './html/pages.js'
export { escapeHtml } from './html/escape.js'
export type {
  AccessTokenLookup,
  AccessTokenRecord,
  AuthorizationCodeRecord,
  ClientRecord,
  ClientType,
  GrantType,
  NewAuthorizationCode,
  NewToken,
  NewUser,
  OAuth2Store,
  RefreshReuse,
  RevocationEvent,
  RevocationKind,
  SessionRecord,
  ThrottleState,
  TokenRecord,
  TokenUser,
  UserRecord
} from './store/store.js'
export { ConfigErrorCode, OAuth2ConfigError, OAuth2Error } from './errors.js'
export { oauth2ErrorBody } from './routes/openapi.js'
export { MemoryStore } from './store/memory-store.js'
export { logRedactPaths, logSerializers, notFoundHandler, type SerializedRequest } from './logging.js'
export { KyselyStore, type KyselyStoreOptions, type PgPool, type SqliteHandle, type SqliteStatement } from './store/kysely/kysely-store.js'
export { openDatabase, redactUrl, type DatabaseDialect, type OpenedDatabase } from './store/kysely/connect.js'
export { checkRedirectUri, createClient, rotateClientSecret, type CreatedClient, type NewClientOptions, type RotateSecretOptions } from './clients.js'
export type { AppUser, NewAppUser, PasswordTools, PasswordVerdict, UserSource } from './auth/user-source.js'
export { importUser, type ImportedUser } from './import-user.js'
export {
  importFromDjango,
  kyselyTransaction,
  type CollisionRemedy,
  type DjangoImportOptions,
  type DjangoImportReport,
  type ImportCounts,
  type ImportSkip,
  type StoreTransaction,
  type UsernameCollision
} from './django/import.js'
export { djangoUsers, type DjangoLoginUser, type DjangoUser, type DjangoUsersOptions } from './django/users.js'

/**
 * The fastify-oauth2-server plugin: `app.register(oauth2, { store })`. Registers the token and sign-up
 * routes, decorates requests with `oauth` and the user, and adds `app.oauth2.authenticate()` guards.
 */
const oauth2 = fp(oauth2Server, { name: 'fastify-oauth2-server', fastify: '5.x' })

export default oauth2
export { oauth2 }
