/**
 * The bearer check as a @fastify/auth strategy (`app.oauth2.verifyBearer()`), beside an API-key check:
 * either one lets a request in (`relation: 'or'`), or both are needed (`'and'`); when the bearer check is
 * the one that failed last, the client gets the RFC 6750 answer.
 */
import fastifyAuth from '@fastify/auth'
import type { FastifyInstance, FastifyRequest, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { hashToken } from '../lib/crypto/tokens.js'
import { buildApp, loggedIn, type TestApp } from './fixtures/app.js'

const API_KEY = 'k3y-of-the-batch-job'
const CHALLENGE = 'Bearer realm="api"'

/** The app's own strategy: an `X-Api-Key` header. It fails by throwing, as @fastify/auth expects. */
async function apiKey (request: FastifyRequest): Promise<void> {
  if (request.headers['x-api-key'] !== API_KEY) {
    throw Object.assign(new Error('A valid API key is required.'), { statusCode: 401, code: 'APP_NO_API_KEY' })
  }
}

/** What the guarded routes answer: who got in. */
async function whoGotIn (request: FastifyRequest): Promise<unknown> {
  return { user: request.user, clientId: request.oauth?.clientId ?? null }
}

async function composedApp (t: Test, routes: (app: FastifyInstance) => void): Promise<TestApp> {
  return await buildApp(t, {}, undefined, async (app) => {
    await app.register(fastifyAuth)
    routes(app)
  })
}

function call (ctx: TestApp, url: string, headers: Record<string, string>): Promise<LightMyRequestResponse> {
  return ctx.app.inject({ url, headers })
}

t.test("relation 'or': a token or an API key lets the request in; neither gets the Bearer challenge", async (t) => {
  const ctx = await composedApp(t, (app) => {
    app.get('/reports', {
      preHandler: app.auth([apiKey, app.oauth2.verifyBearer()]),
      errorHandler: app.oauth2.errorHandler
    }, whoGotIn)
  })
  const tokens = await loggedIn(ctx)

  const byToken = await call(ctx, '/reports', { authorization: `Bearer ${tokens.access_token}` })
  t.equal(byToken.statusCode, 200)
  t.match(byToken.json(), { user: { username: 'pony' }, clientId: ctx.publicId }, 'the bearer strategy decorated the request')
  t.equal(byToken.headers['www-authenticate'], undefined)

  const byKey = await call(ctx, '/reports', { 'x-api-key': API_KEY })
  t.equal(byKey.statusCode, 200)
  t.same(byKey.json(), { user: null, clientId: null }, 'the API key let it in: no user')

  const neither = await call(ctx, '/reports', {})
  t.equal(neither.statusCode, 401)
  t.equal(neither.headers['www-authenticate'], CHALLENGE)
  t.match(neither.headers['content-type'], /^application\/json/)
  t.same(neither.json(), { error: 'unauthorized', error_description: 'Authentication credentials were not provided.' })

  const badToken = await call(ctx, '/reports', { authorization: 'Bearer not-a-token', 'x-api-key': 'wrong' })
  t.equal(badToken.statusCode, 401)
  t.equal(badToken.headers['www-authenticate'], `${CHALLENGE}, error="invalid_token", error_description="The access token is invalid."`)
  t.same(badToken.json(), { error: 'invalid_token', error_description: 'The access token is invalid.' })

  const stored = await ctx.store.findByAccessTokenHash(hashToken(tokens.access_token))
  t.equal(stored?.token.revokedAt, null, 'checking a token changes nothing stored')
})

t.test('a missing scope fails the strategy with 403 insufficient_scope; a failed bearer check lets the next strategy run', async (t) => {
  const ctx = await composedApp(t, (app) => {
    const writers = app.oauth2.verifyBearer({ scopes: ['write'] })
    app.get('/admin', { preHandler: app.auth([apiKey, writers]), errorHandler: app.oauth2.errorHandler }, whoGotIn)
    app.get('/admin-or-key', { preHandler: app.auth([writers, apiKey]), errorHandler: app.oauth2.errorHandler }, whoGotIn)
  })
  await ctx.signUp('pony', 'djangsta-secret')
  const readOnly = (await ctx.login('pony', 'djangsta-secret', { scope: 'read' })).json()
  const readWrite = (await ctx.login('pony', 'djangsta-secret')).json()
  const asReader = { authorization: `Bearer ${readOnly.access_token as string}` }

  const allowed = await call(ctx, '/admin', { authorization: `Bearer ${readWrite.access_token as string}` })
  t.equal(allowed.statusCode, 200)
  t.match(allowed.json(), { user: { username: 'pony' } })

  const denied = await call(ctx, '/admin', asReader)
  t.equal(denied.statusCode, 403)
  t.equal(denied.headers['www-authenticate'],
    `${CHALLENGE}, error="insufficient_scope", error_description="The access token lacks a required scope.", scope="write"`)
  t.same(denied.json(), { error: 'insufficient_scope', error_description: 'The access token lacks a required scope.' })

  // Listed first, the bearer check fails without answering: the API key check runs next and lets it in.
  const withKey = await call(ctx, '/admin-or-key', { ...asReader, 'x-api-key': API_KEY })
  t.equal(withKey.statusCode, 200)
  t.same(withKey.json(), { user: null, clientId: null }, 'a failed check leaves the request undecorated')
  t.equal(withKey.headers['www-authenticate'], undefined, 'and no challenge leaks into the success')
})

t.test("relation 'and': both a token and an API key are needed", async (t) => {
  const ctx = await composedApp(t, (app) => {
    app.get('/both', {
      preHandler: app.auth([app.oauth2.verifyBearer(), apiKey], { relation: 'and' }),
      errorHandler: app.oauth2.errorHandler
    }, whoGotIn)
  })
  const tokens = await loggedIn(ctx)
  const bearer = `Bearer ${tokens.access_token}`

  const both = await call(ctx, '/both', { authorization: bearer, 'x-api-key': API_KEY })
  t.equal(both.statusCode, 200)
  t.match(both.json(), { user: { username: 'pony' } })

  const keyOnly = await call(ctx, '/both', { 'x-api-key': API_KEY })
  t.equal(keyOnly.statusCode, 401)
  t.equal(keyOnly.headers['www-authenticate'], CHALLENGE)
  t.same(keyOnly.json(), { error: 'unauthorized', error_description: 'Authentication credentials were not provided.' })

  const neither = await call(ctx, '/both', {})
  t.equal(neither.statusCode, 401)
  t.equal(neither.headers['www-authenticate'], CHALLENGE, 'the bearer check failed first and ended the chain')

  // The token passed and the API key failed: the app's own error, handed on by errorHandler to Fastify's.
  const tokenOnly = await call(ctx, '/both', { authorization: bearer })
  t.equal(tokenOnly.statusCode, 401)
  t.equal(tokenOnly.headers['www-authenticate'], undefined)
  t.match(tokenOnly.json(), { statusCode: 401, code: 'APP_NO_API_KEY', message: 'A valid API key is required.' })
})

t.test("@fastify/auth answers with the last failure: the strategy listed last decides the challenge", async (t) => {
  const ctx = await composedApp(t, (app) => {
    app.get('/key-last', {
      preHandler: app.auth([app.oauth2.verifyBearer(), apiKey]),
      errorHandler: app.oauth2.errorHandler
    }, whoGotIn)
  })
  const res = await call(ctx, '/key-last', {})
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], undefined, 'the API key failed last: its error, not the Bearer challenge')
  t.match(res.json(), { code: 'APP_NO_API_KEY' })
})

t.test("errorHandler passes other errors on to the context's own error handler", async (t) => {
  const seen: string[] = []
  const ctx = await composedApp(t, (app) => {
    app.register(async (api) => {
      api.setErrorHandler(async (error: Error & { statusCode?: number }, _request, reply) => {
        seen.push(error.message)
        return await reply.code(error.statusCode ?? 500).send({ appError: error.message })
      })
      api.get('/mixed', {
        preHandler: api.auth([api.oauth2.verifyBearer(), apiKey], { relation: 'and' }),
        errorHandler: api.oauth2.errorHandler
      }, whoGotIn)
      api.get('/boom', { errorHandler: api.oauth2.errorHandler }, async () => {
        throw new Error('the handler failed')
      })
    })
  })
  const tokens = await loggedIn(ctx)
  const keyMissing = await call(ctx, '/mixed', { authorization: `Bearer ${tokens.access_token}` })
  t.equal(keyMissing.statusCode, 401)
  t.same(keyMissing.json(), { appError: 'A valid API key is required.' })
  const boom = await call(ctx, '/boom', {})
  t.equal(boom.statusCode, 500)
  t.same(boom.json(), { appError: 'the handler failed' })
  const tokenMissing = await call(ctx, '/mixed', { 'x-api-key': API_KEY })
  t.equal(tokenMissing.statusCode, 401)
  t.same(tokenMissing.json(), { error: 'unauthorized', error_description: 'Authentication credentials were not provided.' })
  t.same(seen, ['A valid API key is required.', 'the handler failed'], 'OAuth2 errors never reach the app handler')
})

t.test("without errorHandler, Fastify's default error handler still gives the status and the challenge", async (t) => {
  const ctx = await composedApp(t, (app) => {
    app.get('/plain', { preHandler: app.auth([apiKey, app.oauth2.verifyBearer()]) }, whoGotIn)
  })
  const res = await call(ctx, '/plain', { authorization: 'Bearer nope' })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], `${CHALLENGE}, error="invalid_token", error_description="The access token is invalid."`)
  t.match(res.json(), { statusCode: 401, message: 'The access token is invalid.' }, "Fastify's own body shape")
})

t.test('verifyBearer as a plain hook under errorHandler answers as authenticate() does', async (t) => {
  const ctx = await buildApp(t, {}, undefined, (app) => {
    app.register(async (api) => {
      api.setErrorHandler(api.oauth2.errorHandler)
      api.addHook('onRequest', api.oauth2.verifyBearer())
      api.get('/hooked', whoGotIn)
    })
  })
  const tokens = await loggedIn(ctx)
  for (const authorization of [undefined, 'Bearer nope', `Bearer ${tokens.access_token}`]) {
    const headers: Record<string, string> = authorization === undefined ? {} : { authorization }
    const viaStrategy = await call(ctx, '/hooked', headers)
    const viaGuard = await call(ctx, '/me', headers)
    t.equal(viaStrategy.statusCode, viaGuard.statusCode, String(authorization))
    t.equal(viaStrategy.headers['www-authenticate'], viaGuard.headers['www-authenticate'])
    if (viaGuard.statusCode === 200) {
      t.same(viaStrategy.json().user, viaGuard.json().user)
    } else {
      t.same(viaStrategy.json(), viaGuard.json())
    }
  }
})
