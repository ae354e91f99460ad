import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { PasswordHasher } from '../crypto/passwords.js'
import { OAuth2Error } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import { checkPassword, normalizeUsername } from '../users.js'
import { bodyString, routePaths } from './common.js'

/** The sign-up body. */
export interface SignUpBody {
  username?: string
  password?: string
}

/** The sign-up answer: never the password. */
export interface SignUpResponse {
  id: string
  username: string
}

export const signUpBodySchema = {
  type: 'object',
  properties: {
    username: bodyString(1024),
    password: bodyString(4096)
  }
} as const

function taken (): OAuth2Error {
  return new OAuth2Error('invalid_request', 'A user with that username already exists.')
}

/** `POST /sign_up/`: `{ username, password }` as JSON or form → `201 { id, username }`. */
export function signUpRoute (app: FastifyInstance, options: ResolvedOptions, hasher: PasswordHasher, path: string): void {
  const { store } = options

  async function handler (request: FastifyRequest<{ Body: SignUpBody }>, reply: FastifyReply): Promise<SignUpResponse> {
    const { username: rawUsername, password } = request.body
    if (rawUsername === undefined) throw new OAuth2Error('invalid_request', 'Request is missing username parameter.')
    if (password === undefined) throw new OAuth2Error('invalid_request', 'Request is missing password parameter.')
    const { username, usernameKey } = normalizeUsername(rawUsername, options.usernameMaxLength)
    await checkPassword(password, username, options)
    // A cheap early answer for a taken name; the insert below is what guarantees uniqueness.
    if (await store.findUserByUsernameKey(usernameKey) !== null) throw taken()
    const passwordHash = await hasher.hash(password)
    const user = await store.createUser({ id: randomUUID(), username, usernameKey, passwordHash, createdAt: options.now() })
    if (user === null) throw taken()
    reply.code(201)
    return { id: user.id, username: user.username }
  }

  for (const url of routePaths(app, path)) {
    app.post<{ Body: SignUpBody }>(url, { schema: { body: signUpBodySchema } }, handler)
  }
}
