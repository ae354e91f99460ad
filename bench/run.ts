/**
 * `npm run bench`: the project's own benchmark (issue 5). It starts the example app in a child process
 * (bench/server.ts) on a SQLite file, seeds a million live tokens, and measures from this process:
 *   (a) open vs protected route, without and with the token cache;   (b) logins vs raw argon2;
 *   (c) the protected route during a login storm (the storm from its own child process, bench/storm.ts);
 *   (d) the bearer check (called inside the server) on a small vs the full table;   (e) the server's RSS.
 * Then (a) and (d) again on PostgreSQL when its binaries are installed.
 *
 * Flags: `--json` (one JSON object on stdout; progress goes to stderr), `--quick` (a short smoke run),
 * `--no-postgres`, `--tokens <n>`, `--slow-path` (the store without its prepared bearer lookup, to compare),
 * `--pragma "<sqlite pragma>"` (repeatable: SQLite settings to try on the server's connection),
 * `--hashing-concurrency <n>` (the plugin's `hashing.concurrency`, to try another than its default).
 * Every wait is bounded in time; the whole run is stopped after 10 minutes.
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { findPostgresBinDir, launchPostgres } from '../test/fixtures/postgres.js'
import { elapsedSeconds, forkTs, killChildren, progress, Server, sleep, within } from './child.js'
import { runLoad, type LoadOptions, type LoadResult } from './load.js'
import {
  allTargets, formatReport, routeRatios,
  type DatabaseReport, type LoginSection, type MemorySection, type Report, type RouteRound, type RoutesSection,
  type StormSection, type TableSizeSection
} from './report.js'
import { seedDatabase } from './seed.js'
import type { StormOptions } from './storm.js'
import { BENCH_REDIRECT_URI } from './server.js'
import { cpuMicrosPerRequest, median, ratio, ratios, sampleIndexes, seededRandom } from './stats.js'
import { benchToken } from './tokens.js'

const WATCHDOG_MS = 10 * 60_000

const { values: flags } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    'no-postgres': { type: 'boolean', default: false },
    'slow-path': { type: 'boolean', default: false },
    tokens: { type: 'string' },
    pragma: { type: 'string', multiple: true, default: [] },
    'hashing-concurrency': { type: 'string' }
  }
})

/**
 * How long and how big: the full run fits in three minutes on two cores; `--quick` in about one. A load
 * stops within a tenth of a second after its duration (see load.ts).
 */
const PLAN = flags.quick
  ? { tokens: 100_000, smallTokens: 10_000, rounds: 3, roundSeconds: 1, warmupSeconds: 0.5, guardRounds: 3, guardMs: 300, loginRounds: 1, loginSeconds: 2, idleSeconds: 2, stormRampMaxSeconds: 8, stormProbeSeconds: 2 }
  : { tokens: 1_000_000, smallTokens: 10_000, rounds: 5, roundSeconds: 1, warmupSeconds: 0.5, guardRounds: 5, guardMs: 500, loginRounds: 2, loginSeconds: 3, idleSeconds: 3, stormRampMaxSeconds: 10, stormProbeSeconds: 3 }
const TOKENS = flags.tokens === undefined ? PLAN.tokens : Number(flags.tokens)
if (!Number.isSafeInteger(TOKENS) || TOKENS < PLAN.smallTokens) throw new Error(`--tokens must be an integer >= ${PLAN.smallTokens}`)
/** Connections of the route loads (a), and of the idle/storm probe of (c) at a fixed rate. */
const CONNECTIONS = 10
const PROBE = { connections: 2, rate: 200 }
/** Distinct tokens the protected load cycles through: a thousand active users. */
const ACTIVE_TOKENS = 1000
/** Tokens drawn for (d)'s cold case: more than a round checks, so that nearly every check is a new one. */
const UNIFORM_DRAWS = 65_536
const TOKEN_CACHE = { max: 10_000, ttl: 5 }
const CACHE_REFILL_SECONDS = 0.5
/** The plugin's default `hashing.maxQueue`. */
const HASHING_QUEUE = 256
/** Seconds after which a storm request counts as timed out. */
const STORM_TIMEOUT_SECONDS = 10

/** One load against the server, with the server's CPU time over it. */
async function measure (server: Server, options: LoadOptions): Promise<RouteRound> {
  const before = await server.usage()
  const load = await runLoad(options)
  const after = await server.usage()
  const ok = load.byStatus['200']?.count ?? 0
  return {
    rate: load.rate,
    p50: load.latency.p50,
    p99: load.latency.p99,
    cpuMicros: cpuMicrosPerRequest(before.cpu, after.cpu, load.responses),
    unexpected: load.responses - ok + load.errors + load.timeouts
  }
}

interface Opened {
  ports: { plain: number, cached: number }
  clientId: string
  /** A public client of the authorization code grant, at BENCH_REDIRECT_URI. */
  codeClientId: string
  username: string
  password: string
  hashingConcurrency: number
}

/** (a): open, protected and protected-with-cache loads, alternating; RSS after each round for (e). */
async function routes (server: Server, opened: Opened, rssAfterRounds: number[]): Promise<RoutesSection> {
  const active = sampleIndexes(ACTIVE_TOKENS, TOKENS, seededRandom(7)).map((i) => `Bearer ${benchToken(i)}`)
  // Every load sends the same bearer tokens, /ping included (which ignores them): requests of one size,
  // built alike by the generator, so that the difference is the guard's.
  const load = (port: number, path: string, duration: number): LoadOptions => ({
    url: `http://127.0.0.1:${port}${path}`,
    connections: CONNECTIONS,
    duration,
    authorizations: active
  })
  const plans = {
    open: (d: number) => load(opened.ports.plain, '/ping', d),
    protected: (d: number) => load(opened.ports.plain, '/me', d),
    cached: (d: number) => load(opened.ports.cached, '/me', d),
    floor: (d: number) => load(opened.ports.plain, '/me-floor', d)
  }
  for (const plan of Object.values(plans)) await runLoad(plan(PLAN.warmupSeconds))
  const rounds: RoutesSection['rounds'] = []
  for (let r = 0; r < PLAN.rounds; r++) {
    // The order turns each round, so that no route always runs first.
    const order = (['open', 'protected', 'cached', 'floor'] as const).map((_, i, all) => all[(i + r) % all.length] as keyof typeof plans)
    const round: Partial<RoutesSection['rounds'][number]> = {}
    for (const route of order) {
      // The cache's entries expire while the other routes run (ttl 5 s): a short untimed load refills it,
      // so that the round measures its steady state (each token missed once per ttl), not a cold start.
      if (route === 'cached') await runLoad(plans.cached(CACHE_REFILL_SECONDS))
      round[route] = await measure(server, plans[route](PLAN.roundSeconds))
    }
    rounds.push(round as RoutesSection['rounds'][number])
    rssAfterRounds.push((await server.usage()).rss)
    progress(`(a) round ${r + 1}/${PLAN.rounds}: open ${round.open?.rate.toFixed(0)} req/s, protected ${round.protected?.rate.toFixed(0)}, cached ${round.cached?.rate.toFixed(0)}`)
  }
  return { rounds, ...routeRatios(rounds) }
}

/**
 * (d): the guard called in the server process, small and large table alternating, each cycling through
 * the same number of active tokens (the target's measure: stored tokens nobody presents should cost
 * nothing); then one pair where every check draws a new token from the whole table (the cold worst case).
 */
async function tableSize (server: Server): Promise<TableSizeSection> {
  interface GuardRun { checks: number, failures: number, wallNs: number, cpuMicros: number }
  const guard = async (target: 'small' | 'main', draws: number, seed: number): Promise<GuardRun> =>
    await server.call('guard', { target, count: target === 'small' ? PLAN.smallTokens : TOKENS, draws, durationMs: PLAN.guardMs, seed })
  const small: GuardRun[] = []
  const large: GuardRun[] = []
  // One untimed pass each first: the JIT and the caches warm up.
  for (const target of ['small', 'main'] as const) await guard(target, ACTIVE_TOKENS, 100)
  for (let r = 0; r < PLAN.guardRounds; r++) {
    small.push(await guard('small', ACTIVE_TOKENS, 100))
    large.push(await guard('main', ACTIVE_TOKENS, 100))
  }
  const uniformSmall = await guard('small', UNIFORM_DRAWS, 300)
  const uniformLarge = await guard('main', UNIFORM_DRAWS, 300)
  const failures = [...small, ...large, uniformSmall, uniformLarge].reduce((n, run) => n + run.failures, 0)
  if (failures > 0) throw new Error(`(d): ${failures} bearer checks of seeded tokens failed`)
  const wall = (runs: GuardRun[]): number[] => runs.map((run) => run.wallNs / run.checks / 1000)
  const cpu = (runs: GuardRun[]): number => median(runs.map((run) => run.cpuMicros / run.checks))
  return {
    smallTokens: PLAN.smallTokens,
    largeTokens: TOKENS,
    activeTokens: ACTIVE_TOKENS,
    small: wall(small),
    large: wall(large),
    ratio: median(ratios(wall(large), wall(small))),
    smallCpu: cpu(small),
    largeCpu: cpu(large),
    uniform: { small: wall([uniformSmall])[0] as number, large: wall([uniformLarge])[0] as number }
  }
}

function loginLoad (opened: Opened, options: Partial<LoadOptions>): LoadOptions {
  return {
    url: `http://127.0.0.1:${opened.ports.plain}/o/token/`,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username: opened.username, password: opened.password, client_id: opened.clientId }).toString(),
    connections: opened.hashingConcurrency * 4,
    duration: PLAN.loginSeconds,
    ...options
  }
}

/** Waits (bounded) until the server's CPU use falls below a fifth of a core: the hashing queue drained. */
async function settle (server: Server, maxMs = 15_000): Promise<void> {
  const deadline = performance.now() + maxMs
  let last = await server.usage()
  while (performance.now() < deadline) {
    await sleep(250)
    const now = await server.usage()
    const busy = (now.cpu.user + now.cpu.system - last.cpu.user - last.cpu.system) / 250_000
    last = now
    if (busy < 0.2) return
  }
}

/** (b): logins per second against `concurrency` raw argon2 verification loops, alternating. */
async function logins (server: Server, opened: Opened): Promise<LoginSection> {
  const concurrency = opened.hashingConcurrency
  const ceiling: number[] = []
  const rates: number[] = []
  const eventLoopMs: number[] = []
  const cpuPerVerify: number[] = []
  const cpuPerLogin: number[] = []
  let unexpected = 0
  await runLoad(loginLoad(opened, { duration: 1 }))
  await settle(server)
  for (let r = 0; r < PLAN.loginRounds; r++) {
    const beforeRaw = await server.usage()
    const raw: { verified: number, ms: number } = await server.call('argon2', { concurrency, durationMs: PLAN.loginSeconds * 1000 }, 60_000)
    const afterRaw = await server.usage()
    ceiling.push(raw.verified / (raw.ms / 1000))
    cpuPerVerify.push(cpuMicrosPerRequest(beforeRaw.cpu, afterRaw.cpu, raw.verified) / 1000)
    await settle(server)
    const before = await server.usage()
    const load = await runLoad(loginLoad(opened, {}))
    const after = await server.usage()
    const ok = load.byStatus['200']?.count ?? 0
    unexpected += load.responses - ok + load.errors + load.timeouts
    rates.push(ok / load.seconds)
    eventLoopMs.push((after.eventLoopActive - before.eventLoopActive) / load.responses)
    cpuPerLogin.push(cpuMicrosPerRequest(before.cpu, after.cpu, load.responses) / 1000)
    await settle(server)
    progress(`(b) round ${r + 1}/${PLAN.loginRounds}: ceiling ${ceiling[r]?.toFixed(1)} verify/s, logins ${rates[r]?.toFixed(1)}/s`)
  }
  return { concurrency, ceiling, logins: rates, ratio: median(ratios(rates, ceiling)), eventLoopMsPerLogin: median(eventLoopMs), cpuMsPerVerify: median(cpuPerVerify), cpuMsPerLogin: median(cpuPerLogin), unexpected }
}

/**
 * (b) beside the password grant: authorization code flows per second (GET /o/authorize/ → code → POST
 * /o/token/ with PKCE) for a user with a session, as a returning user's browser runs them: no password, no
 * hash. The session comes from one login through the page.
 */
async function codeFlows (opened: Opened): Promise<{ perSecond: number, failures: number }> {
  const base = `http://127.0.0.1:${opened.ports.plain}`
  const verifier = 'bench-verifier-'.padEnd(43, 'v')
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  const authorize = `${base}/o/authorize/?${new URLSearchParams({
    response_type: 'code', client_id: opened.codeClientId, redirect_uri: BENCH_REDIRECT_URI, code_challenge: challenge, code_challenge_method: 'S256'
  }).toString()}`
  const page = await fetch(authorize)
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(await page.text())?.[1] ?? ''
  const csrfCookie = page.headers.getSetCookie()[0]?.split(';')[0] ?? ''
  const login = await fetch(authorize, {
    method: 'POST', redirect: 'manual', headers: { cookie: csrfCookie },
    body: new URLSearchParams({ csrf_token: csrf, username: opened.username, password: opened.password })
  })
  if (login.status !== 303) throw new Error(`(b) the login page answered ${login.status}`)
  const cookie = `${csrfCookie}; ${login.headers.getSetCookie()[0]?.split(';')[0] ?? ''}`
  let flows = 0
  let failures = 0
  const started = performance.now()
  const deadline = started + PLAN.loginSeconds * 1000
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < deadline) {
      const back = await fetch(authorize, { headers: { cookie }, redirect: 'manual' })
      const code = new URL(back.headers.get('location') ?? '/', base).searchParams.get('code') ?? ''
      const token = await fetch(`${base}/o/token/`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: BENCH_REDIRECT_URI, code_verifier: verifier, client_id: opened.codeClientId })
      })
      await token.arrayBuffer()
      if (token.status === 200) flows++
      else failures++
    }
  }))
  return { perSecond: flows / ((performance.now() - started) / 1000), failures }
}

/** (c): the protected route at a fixed rate, idle and during a storm of logins at twice their capacity. */
async function storm (server: Server, opened: Opened, loginRate: number): Promise<StormSection> {
  const authorizations = sampleIndexes(ACTIVE_TOKENS, TOKENS, seededRandom(11)).map((i) => `Bearer ${benchToken(i)}`)
  const probe = (duration: number): LoadOptions => ({
    url: `http://127.0.0.1:${opened.ports.plain}/me`,
    connections: PROBE.connections,
    overallRate: PROBE.rate,
    duration,
    authorizations
  })
  const idle = await runLoad(probe(PLAN.idleSeconds))
  const offeredRate = Math.max(2, Math.round(2 * loginRate))
  // Long enough for the excess to fill the hashing queue (256 by default), then the probe runs.
  const rampSeconds = Math.min(PLAN.stormRampMaxSeconds, Math.ceil(HASHING_QUEUE / Math.max(1, offeredRate - loginRate)) + 1)
  const stormSeconds = rampSeconds + PLAN.stormProbeSeconds + 1
  const child = forkTs('storm.ts')
  const stormResult = new Promise<LoadResult>((resolve, reject) => {
    child.once('message', (message: { ok: boolean, result: LoadResult, error: string }) => {
      if (message.ok) resolve(message.result)
      else reject(new Error(`storm: ${message.error}`))
    })
    child.once('exit', (code) => reject(new Error(`the storm process exited (${String(code)})`)))
  })
  const login = loginLoad(opened, {})
  child.send({
    url: login.url,
    headers: login.headers as Record<string, string>,
    body: login.body as string,
    rate: offeredRate,
    duration: stormSeconds,
    timeout: STORM_TIMEOUT_SECONDS
  } satisfies StormOptions)
  await sleep(rampSeconds * 1000)
  const during = await runLoad(probe(PLAN.stormProbeSeconds))
  const result = await within((stormSeconds + STORM_TIMEOUT_SECONDS + 30) * 1000, 'storm', stormResult)
  await settle(server)
  const ok = result.byStatus['200']?.count ?? 0
  const shed = result.byStatus['503']?.count ?? 0
  progress(`(c) idle p99 ${idle.latency.p99.toFixed(2)} ms, storm p99 ${during.latency.p99.toFixed(2)} ms; storm ${ok} ok, ${shed} shed, ${result.timeouts} timeouts`)
  return {
    offeredRate,
    rampSeconds,
    timeoutSeconds: STORM_TIMEOUT_SECONDS,
    idle: idle.latency,
    during: during.latency,
    p99Ratio: ratio(during.latency.p99, idle.latency.p99),
    storm: {
      responses: result.responses,
      ok,
      shed,
      other: result.responses - ok - shed,
      timeouts: result.timeouts,
      errors: result.errors,
      shedLatency: result.byStatus['503'] ?? null
    }
  }
}

/** One database: open, seed, measure. `full` adds (b), (c) and (e). */
async function runDatabase (dialect: 'sqlite' | 'postgres', url: string, full: boolean): Promise<DatabaseReport> {
  progress(`${dialect}: seeding ${TOKENS.toLocaleString('en-US')} + ${PLAN.smallTokens.toLocaleString('en-US')} tokens`)
  const [seedSeconds] = await within(180_000, 'seeding', seedDatabase(url, [
    { prefix: 'oauth2_', tokens: TOKENS },
    { prefix: 'small_', tokens: PLAN.smallTokens }
  ]))
  progress(`${dialect}: seeded in ${(seedSeconds as number).toFixed(1)} s`)
  const server = await Server.start()
  try {
    // No throttle: (b) and (c) log one user in from one address at full speed, which the throttle (counting
    // every attempt before its check, five at once per username and address) would answer with 429s.
    const plugin = {
      throttle: false as const,
      ...(flags['hashing-concurrency'] === undefined ? {} : { hashing: { concurrency: Number(flags['hashing-concurrency']) } })
    }
    const opened: Opened = await server.call('open', { url, fastPath: !flags['slow-path'], tokenCache: TOKEN_CACHE, pragmas: flags.pragma, plugin })
    const afterSeed = (await server.usage()).rss
    progress(`${dialect}: server up (ports ${opened.ports.plain}, ${opened.ports.cached})`)
    const tableSizeSection = await tableSize(server)
    progress(`(d) ${dialect}: ${median(tableSizeSection.small).toFixed(2)} µs vs ${median(tableSizeSection.large).toFixed(2)} µs per check`)
    const rssRounds: number[] = []
    const routesSection = await routes(server, opened, rssRounds)
    const report: DatabaseReport = { dialect, seed: { tokens: TOKENS, seconds: seedSeconds as number }, routes: routesSection, tableSize: tableSizeSection }
    if (full) {
      report.logins = await logins(server, opened)
      const code = await codeFlows(opened)
      report.logins = { ...report.logins, codeFlows: code }
      progress(`(b) authorization code flows with a session: ${code.perSecond.toFixed(1)}/s`)
      report.storm = await storm(server, opened, median(report.logins.logins))
      const afterRun = (await server.usage()).rss
      const memory: MemorySection = {
        afterSeed,
        rounds: rssRounds,
        afterRun,
        growth: (rssRounds.at(-1) as number) - (rssRounds[0] as number)
      }
      report.memory = memory
    }
    return report
  } finally {
    await server.close()
  }
}

async function runPostgres (): Promise<DatabaseReport | { skipped: string }> {
  if (flags['no-postgres']) return { skipped: '--no-postgres' }
  const binDir = findPostgresBinDir()
  if (binDir === null) return { skipped: 'PostgreSQL binaries not found' }
  let destroy = async (): Promise<void> => {}
  try {
    const server = await within(120_000, 'PostgreSQL start', launchPostgres(binDir, (d) => { destroy = d }))
    progress(`postgres: server up on port ${server.port}`)
    return await runDatabase('postgres', server.url, false)
  } finally {
    await destroy()
  }
}

async function main (): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: still running after ${WATCHDOG_MS / 60_000} minutes: stopping\n`)
    killChildren()
    process.exit(2)
  }, WATCHDOG_MS)
  watchdog.unref()

  const machine = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${platform()} ${release()}`,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: totalmem() / 2 ** 30,
    loadAverage: loadavg()
  }
  const dir = mkdtempSync(join(tmpdir(), 'oauth2-bench-'))
  let sqlite: DatabaseReport
  try {
    sqlite = await runDatabase('sqlite', `sqlite:${join(dir, 'bench.db')}`, true)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const postgres = await runPostgres()
  const report: Report = {
    machine,
    settings: {
      quick: flags.quick,
      tokens: TOKENS,
      smallTokens: PLAN.smallTokens,
      roundSeconds: PLAN.roundSeconds,
      rounds: PLAN.rounds,
      connections: CONNECTIONS,
      tokenCache: TOKEN_CACHE
    },
    sqlite,
    postgres,
    targets: allTargets({ sqlite, postgres }),
    seconds: elapsedSeconds()
  }
  process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : formatReport(report))
}

main().then(() => process.exit(0), (err: Error) => {
  process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`)
  killChildren()
  process.exit(1)
})
