/**
 * An authorization code's life as a state machine, checked against a small model with fast-check, on every
 * store: random sequences of exchanges (with the right or a wrong verifier, client and redirect URI), clock
 * moves, and bearer checks of the tokens it gave. The model is the rule README states: the first exchange
 * with every binding right and before expiry gets tokens; any other is `invalid_grant`; an exchange of a
 * code already used revokes the tokens it gave (whoever presents it).
 */
import fc from 'fast-check'
import t from 'tap'
import { buildApp } from './fixtures/app.js'
import { authorizeUrl, codeClient, codeOf, exchange, Jar, pkce, requestParams, submit, visit, actionOf, csrfOf } from './fixtures/authorize.js'
import { forEachStore } from './fixtures/stores.js'

const TTL = 60

type Action =
  | { kind: 'exchange', rightVerifier: boolean, rightClient: boolean, rightRedirect: boolean }
  | { kind: 'advance', seconds: number }
  | { kind: 'me' }

const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('exchange' as const), rightVerifier: fc.boolean(), rightClient: fc.boolean(), rightRedirect: fc.boolean() }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('advance' as const), seconds: fc.integer({ min: 0, max: 40 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('me' as const) }), weight: 2 }
)

forEachStore(t, async (t, open) => {
  t.test('random sequences keep the code rules', async (t) => {
    const ctx = await buildApp(t, { store: await open(t), accessTokenTtl: 10_000_000, sessionTtl: 10_000_000, authorizationCodeTtl: TTL })
    t.equal((await ctx.signUp('pony', 'djangsta-secret')).statusCode, 201)
    const clientId = await codeClient(ctx.store, { redirectUris: ['http://127.0.0.1:5173/callback', 'https://app.example/cb'] })
    const otherId = await codeClient(ctx.store)
    // One session for every run: the login page once, then straight back with a code.
    const jar = new Jar()
    const first = await visit(ctx.app, jar, authorizeUrl(requestParams(clientId, pkce().challenge)))
    await submit(ctx.app, jar, actionOf(first.body), { csrf_token: csrfOf(first.body), username: 'pony', password: 'djangsta-secret' })

    await fc.assert(fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 12 }), async (actions) => {
      const { verifier, challenge } = pkce()
      const issued = await visit(ctx.app, jar, authorizeUrl(requestParams(clientId, challenge)))
      if (issued.statusCode !== 302) return false
      const { code } = codeOf(issued)
      let age = 0
      let used = false
      let access: string | null = null
      let revoked = false
      for (const step of actions) {
        if (step.kind === 'advance') {
          ctx.advance(step.seconds)
          age += step.seconds
          continue
        }
        if (step.kind === 'me') {
          if (access === null) continue
          if ((await ctx.me(access)).statusCode !== (revoked ? 401 : 200)) return false
          continue
        }
        const res = await exchange(ctx.app, {
          code,
          code_verifier: step.rightVerifier ? verifier : pkce().verifier,
          client_id: step.rightClient ? clientId : otherId,
          redirect_uri: step.rightRedirect ? 'http://127.0.0.1:5173/callback' : 'https://app.example/cb'
        })
        const allowed = !used && age < TTL && step.rightVerifier && step.rightClient && step.rightRedirect
        if (used) revoked = true
        if (res.statusCode !== (allowed ? 200 : 400)) return false
        if (!allowed) {
          if (res.json().error !== 'invalid_grant') return false
          continue
        }
        used = true
        access = res.json().access_token
      }
      return true
    }), { numRuns: 30 })
  })
})
