/**
 * Type tests, an app using @fastify/jwt beside this plugin: @fastify/jwt keeps `request.user` (its own
 * type), and declaring `decorator: 'account'` moves ours to `request.account` without a type clash; the
 * `decorator` option is then required and must say the same. Compiled on its own
 * (`tsc -p test/types/with-jwt`): both declarations are global to a program.
 */
import jwt from '@fastify/jwt'
import Fastify from 'fastify'
import oauth2, { MemoryStore, type OAuth2User, type OAuth2UserDecorator } from '../../../lib/index.js'
import { expectType } from '../expect-type.js'

interface JwtUser {
  sub: string
  admin: boolean
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: JwtUser
    user: JwtUser
  }
}

declare module '../../../lib/index.js' {
  interface OAuth2ServerTypes {
    decorator: 'account'
  }
}

expectType<'account'>()({} as OAuth2UserDecorator)
expectType<{ id: string, username: string }>()({} as OAuth2User)

const app = Fastify()
const store = new MemoryStore()
void app.register(jwt, { secret: 'a secret of the app' })
void app.register(oauth2, { store, decorator: 'account' })

// @ts-expect-error the declared decorator must be passed: without it the user would land on request.user
void app.register(oauth2, { store })
// @ts-expect-error and it must be the declared name
void app.register(oauth2, { store, decorator: 'user' })

app.get('/both', { onRequest: app.oauth2.authenticate() }, async (request) => {
  expectType<OAuth2User | null>()(request.account)
  expectType<OAuth2User | null | undefined>()(request.oauth?.user)
  expectType<JwtUser>()(request.user)
  const claims = await request.jwtVerify<JwtUser>()
  expectType<boolean>()(claims.admin)
  // @ts-expect-error request.user is @fastify/jwt's, not ours
  return request.user.username
})
