/**
 * The refresh-token family as a state machine, checked against a small model with fast-check: random
 * sequences of refreshes (of any token ever issued), clock moves, bearer checks and revocations, on every
 * store. The model is the rule README states: a token is exchanged once, then again inside the reuse
 * window up to MAX_REFRESH_EXCHANGES times in all; presented after the window it ends the family; a
 * revoked family accepts nothing; every pair handed out works until its refresh token is exchanged.
 */
import fc from 'fast-check'
import t from 'tap'
import { MAX_REFRESH_EXCHANGES } from '../lib/options.js'
import { buildApp, loggedIn } from './fixtures/app.js'
import { forEachStore } from './fixtures/stores.js'

const WINDOW = 5

type Action =
  | { kind: 'refresh', pick: number }
  | { kind: 'advance', seconds: number }
  | { kind: 'me', pick: number }
  | { kind: 'revoke', pick: number }

const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('refresh' as const), pick: fc.nat() }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('advance' as const), seconds: fc.integer({ min: 0, max: 7 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('me' as const), pick: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('revoke' as const), pick: fc.nat() }), weight: 1 }
)

/** One issued pair as the model sees it. */
interface Pair {
  access: string
  refresh: string
  /** Model time (seconds) of its first exchange; `null` until then. */
  rotatedAt: number | null
  exchanges: number
}

forEachStore(t, async (t, open) => {
  t.test('random sequences of actions keep the family rules', async (t) => {
    await fc.assert(fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 25 }), async (actions) => {
      const ctx = await buildApp(t, { store: await open(t), refreshTokenReuseInterval: WINDOW, accessTokenTtl: 86_400 })
      const first = await loggedIn(ctx)
      const pairs: Pair[] = [{ access: first.access_token, refresh: first.refresh_token, rotatedAt: null, exchanges: 0 }]
      let now = 0
      let familyDead = false
      for (const step of actions) {
        if (step.kind === 'advance') {
          ctx.advance(step.seconds)
          now += step.seconds
          continue
        }
        const pair = pairs[step.pick % pairs.length]!
        if (step.kind === 'me') {
          const expected = !familyDead && pair.rotatedAt === null ? 200 : 401
          if ((await ctx.me(pair.access)).statusCode !== expected) return false
          continue
        }
        if (step.kind === 'revoke') {
          const res = await ctx.app.inject({ method: 'POST', url: '/o/revoke_token/', payload: { token: pair.refresh, client_id: ctx.publicId } })
          if (res.statusCode !== 200) return false
          familyDead = true
          continue
        }
        const res = await ctx.refresh(pair.refresh)
        if (pair.rotatedAt !== null && now - pair.rotatedAt >= WINDOW) familyDead = true
        const allowed = !familyDead && (pair.rotatedAt === null || pair.exchanges < MAX_REFRESH_EXCHANGES)
        if (res.statusCode !== (allowed ? 200 : 400)) return false
        if (!allowed) {
          if (res.json().error !== 'invalid_grant') return false
          continue
        }
        pair.rotatedAt ??= now
        pair.exchanges++
        const next = res.json()
        pairs.push({ access: next.access_token, refresh: next.refresh_token, rotatedAt: null, exchanges: 0 })
      }
      return true
    }), { numRuns: 40 })
  })
})
