/**
 * A user's session at the authorization server as a state machine, checked against a small model with
 * fast-check, on every store: random sequences of logins on the login page, authorizations with the
 * session, exchanges of the codes they gave, logouts (`POST /o/logout/`), "log out everywhere"
 * (`app.oauth2.revokeUserTokens`), clock moves and bearer checks. The model is what README states: a live
 * session gets a code without the password, an ended or expired one gets the login page; a code is good
 * once, before it expires, unless log out everywhere came first; a replayed code revokes what it gave; log
 * out everywhere revokes every token and ends every session.
 */
import fc from 'fast-check'
import t from 'tap'
import { buildApp } from './fixtures/app.js'
import { actionOf, authorizeUrl, codeClient, codeOf, csrfOf, exchange, Jar, pkce, requestParams, submit, visit } from './fixtures/authorize.js'
import { forEachStore } from './fixtures/stores.js'

const CODE_TTL = 60
const SESSION_TTL = 300

type Action =
  | { kind: 'login' }
  | { kind: 'authorize' }
  | { kind: 'exchange', pick: number }
  | { kind: 'logout' }
  | { kind: 'everywhere' }
  | { kind: 'advance', seconds: number }
  | { kind: 'me', pick: number }

const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'login' as const }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'authorize' as const }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('exchange' as const), pick: fc.nat() }), weight: 4 },
  { arbitrary: fc.constant({ kind: 'logout' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'everywhere' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('advance' as const), seconds: fc.integer({ min: 0, max: 120 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('me' as const), pick: fc.nat() }), weight: 2 }
)

/** A code the model knows: when it was given, and what became of it. */
interface ModelCode {
  code: string
  verifier: string
  issuedAt: number
  used: boolean
  /** Deleted by log out everywhere before its exchange. */
  ended: boolean
  access: string | null
  revoked: boolean
}

forEachStore(t, async (t, open) => {
  t.test('random sequences keep the session rules', async (t) => {
    const ctx = await buildApp(t, { store: await open(t), accessTokenTtl: 10_000_000, sessionTtl: SESSION_TTL, authorizationCodeTtl: CODE_TTL, throttle: false })
    t.equal((await ctx.signUp('pony', 'djangsta-secret')).statusCode, 201)
    const userId = (await ctx.store.findUserByUsernameKey('pony'))?.id as string
    const clientId = await codeClient(ctx.store)

    await fc.assert(fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 15 }), async (actions) => {
      const jar = new Jar()
      let clock = 0
      // The jar's session: when it ends (it is live before then), or null for none.
      let sessionEnds: number | null = null
      const codes: ModelCode[] = []
      const live = (): boolean => sessionEnds !== null && clock < sessionEnds
      /** An authorization from the browser: a code if the session is live, else the login page. */
      const authorize = async (): Promise<boolean> => {
        const { verifier, challenge } = pkce()
        const res = await visit(ctx.app, jar, authorizeUrl(requestParams(clientId, challenge)))
        if (!live()) return res.statusCode === 200 && res.body.includes('name="password"')
        if (res.statusCode !== 302) return false
        codes.push({ code: codeOf(res).code, verifier, issuedAt: clock, used: false, ended: false, access: null, revoked: false })
        return true
      }
      for (const step of actions) {
        if (step.kind === 'advance') {
          ctx.advance(step.seconds)
          clock += step.seconds
        } else if (step.kind === 'login') {
          if (live()) continue
          const { verifier, challenge } = pkce()
          const page = await visit(ctx.app, jar, authorizeUrl(requestParams(clientId, challenge)))
          if (page.statusCode !== 200) return false
          const back = await submit(ctx.app, jar, actionOf(page.body), { csrf_token: csrfOf(page.body), username: 'pony', password: 'djangsta-secret' })
          if (back.statusCode !== 303) return false
          sessionEnds = clock + SESSION_TTL
          codes.push({ code: codeOf(back).code, verifier, issuedAt: clock, used: false, ended: false, access: null, revoked: false })
        } else if (step.kind === 'authorize') {
          if (!await authorize()) return false
        } else if (step.kind === 'exchange') {
          const entry = codes[step.pick % Math.max(1, codes.length)]
          if (entry === undefined) continue
          const res = await exchange(ctx.app, { code: entry.code, code_verifier: entry.verifier, client_id: clientId })
          const allowed = !entry.used && !entry.ended && clock - entry.issuedAt < CODE_TTL
          if (entry.used) entry.revoked = true
          if (res.statusCode !== (allowed ? 200 : 400)) return false
          if (!allowed) {
            if (res.json().error !== 'invalid_grant') return false
            continue
          }
          entry.used = true
          entry.access = res.json().access_token
        } else if (step.kind === 'logout') {
          const res = await submit(ctx.app, jar, '/o/logout/', {})
          if (res.statusCode !== 200) return false
          sessionEnds = null
        } else if (step.kind === 'everywhere') {
          const expected = codes.filter((c) => c.access !== null && !c.revoked).length
          if (await ctx.app.oauth2.revokeUserTokens(userId) !== expected) return false
          sessionEnds = null
          for (const entry of codes) {
            if (!entry.used) entry.ended = true
            entry.revoked = true
          }
        } else {
          const exchanged = codes.filter((c) => c.access !== null)
          const entry = exchanged[step.pick % Math.max(1, exchanged.length)]
          if (entry?.access == null) continue
          if ((await ctx.me(entry.access)).statusCode !== (entry.revoked ? 401 : 200)) return false
        }
      }
      // Whatever happened, log out everywhere leaves the browser at the login page.
      await ctx.app.oauth2.revokeUserTokens(userId)
      sessionEnds = null
      return await authorize()
    }), { numRuns: 25 })
  })
})
