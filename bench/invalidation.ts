/**
 * (g) on PostgreSQL: how soon a revocation made on one instance of the app is refused by another instance
 * whose token cache holds the token. Both instances run in the server child, each on a store of its own
 * (`KyselyStore.open`: its own pool and its own LISTEN connection) on the same database; this process talks
 * to them over HTTP only. For each fresh token: `GET /me` on B (200, now cached there), `POST
 * /o/revoke_token/` on A, then `GET /me` on B again and again, without pause, until it answers 401.
 */
import type { OAuth2ServerOptions } from '../lib/index.js'
import { progress, type Server } from './child.js'
import { invalidationSummary, type CacheSection } from './report.js'

/** The user the tokens of (g) are issued to (the testing kit creates it). */
const CACHE_USERNAME = 'bench-cache'

export interface InvalidationPlan {
  url: string
  /** Tokens revoked, one at a time. */
  tokens: number
  tokenCache: { max: number, ttl: number }
  plugin: Partial<OAuth2ServerOptions>
  /** Milliseconds after which a token still accepted by B counts as a failure. */
  giveUpMs: number
}

async function status (response: Promise<Response>): Promise<number> {
  const answer = await response
  await answer.arrayBuffer()
  return answer.status
}

export async function cacheInvalidation (server: Server, plan: InvalidationPlan): Promise<CacheSection> {
  const { ports: [portA, portB], clientId }: { ports: [number, number], clientId: string } =
    await server.call('openPair', { url: plan.url, tokenCache: plan.tokenCache, plugin: plan.plugin })
  const me = async (token: string): Promise<number> =>
    await status(fetch(`http://127.0.0.1:${portB}/me`, { headers: { authorization: `Bearer ${token}` } }))
  const revoke = (token: string): Promise<Response> => fetch(`http://127.0.0.1:${portA}/o/revoke_token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, client_id: clientId }).toString()
  })
  const tokens: string[] = await server.call('issue', { count: plan.tokens + 1, username: CACHE_USERNAME }, 60_000)

  // B's cache answers a token it has seen: its store is not asked again.
  const [probe = ''] = tokens.splice(0, 1)
  const first = await me(probe)
  const lookups: number = await server.call('pairLookups')
  const second = await me(probe)
  if (first !== 200 || second !== 200 || await server.call<number>('pairLookups') !== lookups) {
    throw new Error(`(g) the second instance does not answer from its cache (${first}, ${second})`)
  }

  const samples: number[] = []
  const polls: number[] = []
  let failures = 0
  for (const token of tokens) {
    const warm = await me(token)
    if (warm !== 200) throw new Error(`(g) a fresh token was answered ${warm} on the second instance`)
    const revoked = await revoke(token)
    const revokedAt = performance.now()
    await revoked.arrayBuffer()
    if (revoked.status !== 200) throw new Error(`(g) the revocation was answered ${revoked.status}`)
    let count = 0
    for (;;) {
      const answer = await me(token)
      count++
      if (answer === 401) {
        samples.push(performance.now() - revokedAt)
        break
      }
      if (answer !== 200) throw new Error(`(g) the second instance answered ${answer}`)
      if (performance.now() - revokedAt > plan.giveUpMs) {
        failures++
        break
      }
    }
    polls.push(count)
  }
  const section = invalidationSummary(samples, polls, failures, plan.giveUpMs)
  progress(`(g) revocation to refusal on the other instance: p50 ${section.p50Ms.toFixed(2)} ms, p99 ${section.invalidationP99Ms.toFixed(2)} ms, ${failures} missed`)
  return section
}
