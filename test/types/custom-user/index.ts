/**
 * Type tests, an app that declares its user shape: `request.user` and `request.oauth.user` get it, and the
 * `users` option (the only thing that can produce the extra fields) becomes required and typed by it.
 * Compiled on its own (`tsc -p test/types/custom-user`): the declaration below is global to a program.
 */
import Fastify from 'fastify'
import oauth2, { MemoryStore, type OAuth2User, type UserSource } from '../../../lib/index.js'
import { issueTokens } from '../../../lib/testing/index.js'
import { expectType } from '../expect-type.js'

interface Account {
  id: string
  username: string
  email: string
  roles: Array<'admin' | 'staff'>
}

declare module '../../../lib/index.js' {
  interface OAuth2ServerTypes {
    user: Account
  }
}

expectType<Account>()({} as OAuth2User)

const app = Fastify()
const store = new MemoryStore()
const rows = new Map<string, Account & { passwordHash: string }>()

const users: UserSource<OAuth2User> = {
  async findByUsername (username) {
    return [...rows.values()].find((row) => row.username === username) ?? null
  },
  async findById (id) {
    const row = rows.get(id)
    // What findById gives becomes request.user: the row without its hash.
    return row === undefined ? null : { id: row.id, username: row.username, email: row.email, roles: row.roles }
  },
  async verifyPassword (user, password, passwords) {
    return await passwords.verify(rows.get(user.id)?.passwordHash ?? '', password)
  }
}
void app.register(oauth2, { store, users })

// @ts-expect-error the declared user has fields the store cannot give: `users` is required
void app.register(oauth2, { store })
// @ts-expect-error findById must give the declared shape (here it lacks email and roles)
void app.register(oauth2, { store, users: { ...users, findById: async (id: string) => ({ id, username: 'pony' }) } })

app.get('/me', { onRequest: app.oauth2.authenticate() }, async (request) => {
  expectType<Account | null>()(request.user)
  expectType<Account | null | undefined>()(request.oauth?.user)
  if (request.user === null) return null
  expectType<string>()(request.user.email)
  expectType<Array<'admin' | 'staff'>>()(request.user.roles)
  // @ts-expect-error not a field of the declared user
  return request.user.passwordHash
})

// The testing kit gives the user as request.user has it: the declared shape.
void (async () => {
  const issued = await issueTokens(app, { username: 'pony' })
  expectType<Account>()(issued.user)
  expectType<string>()(issued.user.email)
})
