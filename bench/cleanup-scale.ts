/**
 * (f) the expired-token cleanup at scale, on SQLite: a file of its own seeded with millions of expired token
 * records (seed.ts) beside a thousand live ones, a server of its own on it (the example app on
 * `KyselyStore.open`, no token cache), and `GET /me` probed at a fixed rate with the live tokens: idle, then
 * while the server runs the library's cleanup (`deleteExpired` with its default batch size, as the plugin's
 * periodic `cleanup` and `tokens clear` do) until it finishes, or until the bench's bound. Afterwards the
 * expired records must be gone (those the cleanup reached, all of them when it finished) and every live
 * token must still work: the bench fails otherwise.
 */
import type { OAuth2ServerOptions } from '../lib/index.js'
import { progress, seedSqliteInChild, Server } from './child.js'
import { probeLoad, runLoad } from './load.js'
import type { CleanupSection } from './report.js'
import { ratio, type LatencySummary } from './stats.js'
import { benchToken } from './tokens.js'

export interface CleanupPlan {
  /** A `sqlite:` URL of a file that does not exist yet. */
  url: string
  expiredTokens: number
  liveTokens: number
  /** Seconds of the idle probe. */
  idleSeconds: number
  /** Seconds after which the cleanup is stopped at its next batch. */
  maxSeconds: number
  plugin: Partial<OAuth2ServerOptions>
}

/** The seeding's bound: a minute per million records, three minutes at least. */
function seedBoundMs (expiredTokens: number): number {
  return Math.max(180_000, 60_000 * expiredTokens / 1e6)
}

/** What (f) may add to the run's time at most: its seeding's bound, its cleanup's, and two minutes for the rest. */
export function cleanupWatchdogMs (expiredTokens: number, maxSeconds: number): number {
  return seedBoundMs(expiredTokens) + maxSeconds * 1000 + 120_000
}

const count = (n: number): string => n.toLocaleString('en-US')

/** Seconds between progress lines while the cleanup runs. */
const PROGRESS_SECONDS = 15

/** How many of `authorizations` `GET /me` does not answer 200, each presented once (eight at a time). */
async function refusedTokens (port: number, authorizations: string[]): Promise<number> {
  let refused = 0
  let next = 0
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let i = next++; i < authorizations.length; i = next++) {
      const answer = await fetch(`http://127.0.0.1:${port}/me`, { headers: { authorization: authorizations[i] as string } })
      await answer.arrayBuffer()
      if (answer.status !== 200) refused++
    }
  }))
  return refused
}

/**
 * Seeds (f)'s file, in a child process of its own (see `seedSqliteInChild`), and returns the seconds it
 * took: the run's longest preparation, which the others share the machine with (run.ts).
 */
export async function seedCleanup (plan: CleanupPlan): Promise<number> {
  progress(`(f) seeding ${count(plan.expiredTokens)} expired + ${count(plan.liveTokens)} live tokens`)
  const [seconds = Number.NaN] = await seedSqliteInChild(plan.url,
    [{ prefix: 'oauth2_', tokens: plan.liveTokens, expiredTokens: plan.expiredTokens }], seedBoundMs(plan.expiredTokens))
  progress(`(f) seeded in ${seconds.toFixed(1)} s`)
  return seconds
}

/** (f) on the file `seedCleanup` made, which took `seedSeconds`. */
export async function cleanupAtScale (plan: CleanupPlan, seedSeconds: number): Promise<CleanupSection> {
  const server = await Server.start()
  try {
    const { port }: { port: number } = await server.call('openSingle', { url: plan.url, plugin: plan.plugin })
    const authorizations = Array.from({ length: plan.liveTokens }, (_, i) => `Bearer ${benchToken(i)}`)
    await runLoad(probeLoad(port, authorizations, 0.5))
    const idle = await runLoad(probeLoad(port, authorizations, plan.idleSeconds))

    const stop = new AbortController()
    const during = runLoad(probeLoad(port, authorizations, plan.maxSeconds + 60, stop.signal))
    const ticker = setInterval(() => {
      server.call<number>('cleanupRows').then((rows) => progress(`(f) ${count(rows)} records deleted so far`), () => {})
    }, PROGRESS_SECONDS * 1000)
    let cleanup: { finished: boolean, rows: number, seconds: number, batches: LatencySummary }
    try {
      cleanup = await server.call('cleanup', { maxSeconds: plan.maxSeconds }, (plan.maxSeconds + 60) * 1000)
    } finally {
      clearInterval(ticker)
      stop.abort()
    }
    const probed = await during
    progress(`(f) ${count(cleanup.rows)} records deleted in ${cleanup.seconds.toFixed(1)} s` +
      `${cleanup.finished ? '' : ' (stopped at the bound)'}; GET /me p99 idle ${idle.latency.p99.toFixed(2)} ms, during ${probed.latency.p99.toFixed(2)} ms`)

    const left: { expired: number, live: number } = await server.call('countTokens', { now: Date.now() }, 120_000)
    const expectedLeft = plan.expiredTokens - cleanup.rows
    if (left.expired !== expectedLeft || left.live !== plan.liveTokens || (cleanup.finished && left.expired !== 0)) {
      throw new Error(`(f) after deleting ${cleanup.rows} of ${plan.expiredTokens} expired records, ${left.expired} expired ` +
        `and ${left.live} live records are left (expected ${expectedLeft} and ${plan.liveTokens})`)
    }
    const refused = await refusedTokens(port, authorizations)
    if (refused > 0) throw new Error(`(f) after the cleanup, ${refused} of ${plan.liveTokens} live tokens were not answered 200`)
    const unexpected = (load: typeof idle): number => load.responses - (load.byStatus['200']?.count ?? 0) + load.errors + load.timeouts
    return {
      expiredTokens: plan.expiredTokens,
      liveTokens: plan.liveTokens,
      seedSeconds,
      rows: cleanup.rows,
      seconds: cleanup.seconds,
      rowsPerSecond: ratio(cleanup.rows, cleanup.seconds),
      finished: cleanup.finished,
      maxSeconds: plan.maxSeconds,
      expiredLeft: left.expired,
      batches: cleanup.batches,
      idle: idle.latency,
      during: probed.latency,
      p99Ratio: ratio(probed.latency.p99, idle.latency.p99),
      unexpected: unexpected(idle) + unexpected(probed),
      liveChecked: authorizations.length
    }
  } finally {
    await server.close()
  }
}
