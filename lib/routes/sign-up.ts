import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OAuth2Error } from '../errors.js'
import { checkPassword, normalizeUsername } from '../users.js'
import { bodyString, routePaths } from './common.js'
import type { RouteContext } from './context.js'
import { CONSUMES, documented, OPENAPI_TAG, responses } from './openapi.js'

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
    username: { ...bodyString(1024), description: 'Letters, digits and @ . + - _ (as Django); unique case-insensitively.' },
    password: { ...bodyString(4096), description: 'Checked by the password policy; stored only as an argon2id hash.' }
  }
} as const

/** The whole schema of the sign-up route, for validation and for @fastify/swagger. */
export const signUpRouteSchema = {
  summary: 'Sign up',
  description: 'Creates a user. The answer never echoes the password.',
  tags: [OPENAPI_TAG],
  consumes: CONSUMES,
  body: signUpBodySchema,
  response: responses({
    201: {
      description: 'The new user.',
      type: 'object',
      required: ['id', 'username'],
      properties: {
        id: { type: 'string' },
        username: { type: 'string', description: 'As signed up, NFKC-normalized.' }
      }
    }
  }, [400, 413, 415, 429, 503])
}

function taken (): OAuth2Error {
  return new OAuth2Error('invalid_request', 'A user with that username already exists.')
}

/** `POST /sign_up/`: `{ username, password }` as JSON or form → `201 { id, username }`. */
export function signUpRoute (app: FastifyInstance, ctx: RouteContext, path: string): void {
  const { options, users, throttle } = ctx

  async function handler (request: FastifyRequest<{ Body: SignUpBody }>, reply: FastifyReply): Promise<SignUpResponse> {
    const { username: rawUsername, password } = request.body
    if (rawUsername === undefined) throw new OAuth2Error('invalid_request', 'Request is missing username parameter.')
    if (password === undefined) throw new OAuth2Error('invalid_request', 'Request is missing password parameter.')
    await throttle?.signUp(request.ip)
    const name = normalizeUsername(rawUsername, options.usernameMaxLength)
    await checkPassword(password, name.username, options)
    // In the store, or through the app's users.create (see UserDirectory.signUp).
    const user = await users.signUp(name, password)
    if (user === null) throw taken()
    reply.code(201)
    return { id: user.id, username: user.username }
  }

  for (const url of routePaths(app, path)) {
    app.post<{ Body: SignUpBody }>(url, { schema: documented(signUpRouteSchema, url, path) }, handler)
  }
}
