/**
 * `npm run bench`: the project's own benchmark (issues 5 and 16). It first makes every database it measures,
 * two at a time (nothing is measured meanwhile): (f)'s file, and beside it a SQLite file with a million live
 * tokens, then a PostgreSQL server seeded like it. Then it starts the example app in a child process
 * (bench/server.ts) on the SQLite file and measures from this process:
 *   (a) open vs protected route, without and with the token cache; (a') the cached check's hook against
 *       the floor's, called inside the server;
 *   (b) logins vs raw argon2 verifies, and sign-ups vs raw argon2 hashes, at every core;
 *   (c) the protected route during a login storm, then a sign-up storm (each from its own child process,
 *       bench/storm.ts);
 *   (d) the bearer check (called inside the server) on a small vs the full table;   (e) the server's RSS;
 *   (f) the library's cleanup of ten million expired tokens, on a SQLite file of their own with a server of
 *       its own, with the protected route probed idle and during it (bench/cleanup-scale.ts).
 * Then (a) and (d) again on PostgreSQL when its binaries are installed, and (g): a revocation on one
 * instance of the app until another instance's token cache refuses the token (bench/invalidation.ts).
 *
 * Flags: `--json` (one JSON object on stdout; progress goes to stderr), `--quick` (a short smoke run),
 * `--no-postgres`, `--tokens <n>`, `--slow-path` (the store without its prepared bearer lookup, to compare),
 * `--pragma "<sqlite pragma>"` (repeatable: SQLite settings to try on the server's connection),
 * `--hashing-concurrency <n>` (the plugin's `hashing.concurrency`, to try another than its default),
 * `--cleanup-tokens <n>` (expired tokens of (f); `--no-cleanup` skips (f)), `--cleanup-max-seconds <n>`
 * (where (f) stops the cleanup if it has not finished, and says so).
 * Every wait is bounded in time; the whole run is stopped after 10 minutes plus (f)'s own bounds.
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { findPostgresBinDir, launchPostgres } from '../test/fixtures/postgres.js'
import { elapsedSeconds, forkTs, killChildren, progress, seedSqliteInChild, Server, sleep, within } from './child.js'
import { cleanupAtScale, cleanupWatchdogMs, seedCleanup } from './cleanup-scale.js'
import { cacheInvalidation } from './invalidation.js'
import { probeLoad, runLoad, type LoadOptions, type LoadResult } from './load.js'
import { runPaced } from './paced.js'
import {
  allTargets, formatReport, routeRatios,
  type DatabaseReport, type HookSection, type LoginSection, type MemorySection, type Report, type RouteRound, type RoutesSection,
  type SignUpSection, type StormSection, type TableSizeSection
} from './report.js'
import { seedDatabase } from './seed.js'
import type { StormOptions } from './storm.js'
import { BENCH_REDIRECT_URI, BENCH_TEST_HASH_USERNAME } from './server.js'
import { cpuMicrosPerRequest, median, ratio, ratios, sampleIndexes, seededRandom } from './stats.js'
import { benchToken } from './tokens.js'

/** The bound of the whole run without (f), whose own bounds come on top. */
const WATCHDOG_MS = 10 * 60_000

const { values: flags } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    'no-postgres': { type: 'boolean', default: false },
    'slow-path': { type: 'boolean', default: false },
    tokens: { type: 'string' },
    pragma: { type: 'string', multiple: true, default: [] },
    'hashing-concurrency': { type: 'string' },
    'no-cleanup': { type: 'boolean', default: false },
    'cleanup-tokens': { type: 'string' },
    'cleanup-max-seconds': { type: 'string' }
  }
})

/**
 * How long and how big. (f) stops the library's cleanup after `cleanupMaxSeconds` if it has not finished (and
 * says so): its rate and the route's latency meanwhile show within seconds, and a cleanup of ten million
 * rows may take far longer than the whole run may (report.ts's `RUN_SECONDS_TARGET`);
 * `--cleanup-max-seconds` lets it finish.
 */
const PLAN = flags.quick
  ? { tokens: 100_000, smallTokens: 10_000, rounds: 3, roundSeconds: 1, warmupSeconds: 0.5, guardRounds: 3, guardMs: 300, loginRounds: 1, loginSeconds: 2, hashingWarmupSeconds: 1, idleSeconds: 2, stormRampMaxSeconds: 8, stormProbeSeconds: 2, cacheTokens: 50, cleanupTokens: 200_000, cleanupLiveTokens: 1000, cleanupMaxSeconds: 60 }
  : { tokens: 1_000_000, smallTokens: 10_000, rounds: 9, roundSeconds: 1, warmupSeconds: 0.5, guardRounds: 5, guardMs: 500, loginRounds: 2, loginSeconds: 3, hashingWarmupSeconds: 8, idleSeconds: 3, stormRampMaxSeconds: 10, stormProbeSeconds: 3, cacheTokens: 200, cleanupTokens: 10_000_000, cleanupLiveTokens: 1000, cleanupMaxSeconds: 30 }
const TOKENS = flags.tokens === undefined ? PLAN.tokens : Number(flags.tokens)
if (!Number.isSafeInteger(TOKENS) || TOKENS < PLAN.smallTokens) throw new Error(`--tokens must be an integer >= ${PLAN.smallTokens}`)
const CLEANUP_TOKENS = flags['cleanup-tokens'] === undefined ? PLAN.cleanupTokens : Number(flags['cleanup-tokens'])
if (!Number.isSafeInteger(CLEANUP_TOKENS) || CLEANUP_TOKENS < 1) throw new Error('--cleanup-tokens must be an integer >= 1')
const CLEANUP_MAX_SECONDS = flags['cleanup-max-seconds'] === undefined ? PLAN.cleanupMaxSeconds : Number(flags['cleanup-max-seconds'])
if (!(CLEANUP_MAX_SECONDS > 0)) throw new Error('--cleanup-max-seconds must be a number > 0')
/** Connections of the route loads (a). */
const CONNECTIONS = 10
/** Distinct tokens the protected load cycles through: a thousand active users. */
const ACTIVE_TOKENS = 1000
/** Tokens drawn for (d)'s cold case: more than a round checks, so that nearly every check is a new one. */
const UNIFORM_DRAWS = 65_536
const TOKEN_CACHE = { max: 10_000, ttl: 5 }
const CACHE_REFILL_SECONDS = 0.5
/**
 * How long past the previous fill's ttl a fill waits: most entries go in at a load's first pass over its
 * tokens; any that go in later expire during the next fill, which renews them before the measured window.
 */
const CACHE_FILL_MARGIN_MS = 300
/** The plugin's default `hashing.maxQueue`. */
const HASHING_QUEUE = 256
/** Seconds after which a storm request counts as timed out. */
const STORM_TIMEOUT_SECONDS = 10
/** (g): how long the second instance is polled for its refusal before the revocation counts as missed. */
const INVALIDATION_GIVE_UP_MS = 2000

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
  ports: { plain: number, cached: number, testHash: number }
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
    // The floor is served by the same app as the cached route: the target compares the two.
    floor: (d: number) => load(opened.ports.cached, '/me-floor', d)
  }
  // When the cached route's tokens last went into the cache (each at its first miss, early in a load).
  let filled = -Infinity
  for (const [route, plan] of Object.entries(plans)) {
    if (route === 'cached') filled = performance.now()
    await runLoad(plan(PLAN.warmupSeconds))
  }
  const rounds: RoutesSection['rounds'] = []
  for (let r = 0; r < PLAN.rounds; r++) {
    // The order turns each round, so that no route always runs first.
    const order = (['open', 'protected', 'cached', 'floor'] as const).map((_, i, all) => all[(i + r) % all.length] as keyof typeof plans)
    const round: Partial<RoutesSection['rounds'][number]> = {}
    for (const route of order) {
      // The cached window measures the cached check: hits. A short untimed load fills the cache first,
      // once the entries of the previous fill are gone: those all came in within a moment and live one
      // ttl, and a fill less than a ttl after theirs would find them (hits, nothing renewed) and leave them
      // to expire together inside the window, a thousand misses in one second, or none, depending on the
      // order of the round (a running server spreads each token's miss over the ttl instead).
      if (route === 'cached') {
        await sleep(Math.max(0, filled + TOKEN_CACHE.ttl * 1000 + CACHE_FILL_MARGIN_MS - performance.now()))
        filled = performance.now()
        await runLoad(plans.cached(CACHE_REFILL_SECONDS))
      }
      round[route] = await measure(server, plans[route](PLAN.roundSeconds))
    }
    rounds.push(round as RoutesSection['rounds'][number])
    rssAfterRounds.push((await server.memory()).rss)
    progress(`(a) round ${r + 1}/${PLAN.rounds}: open ${round.open?.rate.toFixed(0)} req/s, protected ${round.protected?.rate.toFixed(0)}, cached ${round.cached?.rate.toFixed(0)}`)
  }
  return { rounds, ...routeRatios(rounds) }
}

/** What the server's `guard` command answers: checks made by one target's hook in a loop, and their time. */
interface GuardRun { checks: number, failures: number, wallNs: number, cpuMicros: number }

/** (a'): pairs of blocks, and each block's milliseconds. All of it well inside the token cache's ttl. */
const HOOK_PAIRS = 8
const HOOK_BLOCK_MS = 150

/**
 * (a'): (a)'s cached check and its floor without HTTP: the cached app's guard and the floor's hook called
 * in the server process, in alternating blocks, on a thousand tokens that (a) did not present. The first
 * blocks (untimed) fill the cache with them (each a miss, once), so that every call after is a hit: the pairs
 * end long before the first of those entries does (TOKEN_CACHE.ttl). What (a)'s cached/floor ratio
 * compares, without the load generator, the kernel's network work, or the machine's swings between
 * windows seconds apart. Reported, not judged.
 */
async function hookCosts (server: Server): Promise<HookSection> {
  const block = async (target: 'cached' | 'floor'): Promise<GuardRun> =>
    await server.call('guard', { target, count: TOKENS, draws: ACTIVE_TOKENS, durationMs: HOOK_BLOCK_MS, seed: 200 })
  const runs: Array<{ cached: GuardRun, floor: GuardRun }> = []
  for (let w = 0; w < 2; w++) {
    await block('cached')
    await block('floor')
  }
  for (let p = 0; p < HOOK_PAIRS; p++) {
    // The order turns each pair, as (a)'s rounds do.
    if (p % 2 === 0) runs.push({ cached: await block('cached'), floor: await block('floor') })
    else runs.push({ floor: await block('floor'), cached: await block('cached') })
  }
  const failures = runs.reduce((n, run) => n + run.cached.failures + run.floor.failures, 0)
  if (failures > 0) throw new Error(`(a'): ${failures} checks of seeded tokens failed`)
  const nsPerCall = (run: GuardRun): number => run.cpuMicros * 1000 / run.checks
  const cachedNs = runs.map((run) => nsPerCall(run.cached))
  const floorNs = runs.map((run) => nsPerCall(run.floor))
  return { blockMs: HOOK_BLOCK_MS, cachedNs, floorNs, ratio: median(ratios(cachedNs, floorNs)) }
}

/**
 * (d): the guard called in the server process, small and large table alternating, each cycling through
 * the same number of active tokens (the target's measure: stored tokens nobody presents should cost
 * nothing); then one pair where every check draws a new token from the whole table (the cold worst case).
 */
async function tableSize (server: Server): Promise<TableSizeSection> {
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

/** One round of raw argon2 in the server, `concurrency` at once: operations per second, server CPU ms each. */
async function rawArgon2 (server: Server, op: 'verify' | 'hash', concurrency: number): Promise<{ rate: number, cpuMs: number }> {
  const before = await server.usage()
  const raw: { done: number, ms: number } = await server.call('argon2', { op, concurrency, durationMs: PLAN.loginSeconds * 1000 }, 60_000)
  const after = await server.usage()
  await settle(server)
  return { rate: raw.done / (raw.ms / 1000), cpuMs: cpuMicrosPerRequest(before.cpu, after.cpu, raw.done) / 1000 }
}

/**
 * One round of a hashing route (`load`, or what `load()` runs): its `okStatus` answers per second, event-loop
 * and CPU ms per answer.
 */
async function hashingRound (server: Server, load: LoadOptions | (() => Promise<LoadResult>), okStatus: number): Promise<{ rate: number, eventLoopMs: number, eventLoopBusyMs: number, cpuMs: number, unexpected: number }> {
  const before = await server.usage()
  const result = typeof load === 'function' ? await load() : await runLoad(load)
  const after = await server.usage()
  await settle(server)
  const ok = result.byStatus[String(okStatus)]?.count ?? 0
  return {
    rate: ok / result.seconds,
    // The event loop thread's own CPU where the OS tells it (Linux), else the time the loop was busy, which
    // also counts the moments it was ready to run but waited for a core.
    eventLoopMs: after.eventLoopCpu !== null && before.eventLoopCpu !== null
      ? (after.eventLoopCpu - before.eventLoopCpu) / result.responses
      : (after.eventLoopActive - before.eventLoopActive) / result.responses,
    eventLoopBusyMs: (after.eventLoopActive - before.eventLoopActive) / result.responses,
    cpuMs: cpuMicrosPerRequest(before.cpu, after.cpu, result.responses) / 1000,
    unexpected: result.responses - ok + result.errors + result.timeouts
  }
}

/** What the rounds of one hashing route measured, one value per round (medians taken by the caller). */
interface HashingRounds {
  ceiling: number[]
  /** The ceiling at `secondConcurrency`, when asked for. */
  secondCeiling: number[]
  rates: number[]
  eventLoopMs: number[]
  eventLoopBusyMs: number[]
  /** The event loop's CPU per request over the route's first seconds, before the warm-up. */
  coldEventLoopMs: number
  cpuMsPerRaw: number[]
  cpuMsPerRequest: number[]
  unexpected: number
}

/**
 * (b)'s rounds for one hashing route: a raw argon2 ceiling (`op` at `concurrency`, and at `secondConcurrency`
 * too when given), then the route's closed loop (`load(round)`), alternating, after a warm-up.
 *
 * The warm-up is long: V8 optimizes a function once it has run enough, and a route that waits for a hash
 * runs a hundred or two times a second, so its code takes seconds to be optimized where a fast route's takes
 * a fraction of one (measured: a login's event-loop cost falls by a third over its first ten seconds, and
 * stays flat with V8's optimizing compiler off). The rounds measure the state a running server is in; the
 * first seconds are measured too, as the cold figure (`coldEventLoopMs`), reported and not judged.
 */
async function hashingRounds (server: Server, plan: {
  what: string
  op: 'verify' | 'hash'
  concurrency: number
  secondConcurrency?: number
  load: (round: number | 'cold' | 'warm') => LoadOptions
  okStatus: number
}): Promise<HashingRounds> {
  const cold = await hashingRound(server, plan.load('cold'), plan.okStatus)
  const rounds: HashingRounds = {
    ceiling: [], secondCeiling: [], rates: [], eventLoopMs: [], eventLoopBusyMs: [], coldEventLoopMs: cold.eventLoopMs, cpuMsPerRaw: [], cpuMsPerRequest: [], unexpected: cold.unexpected
  }
  await runLoad({ ...plan.load('warm'), duration: PLAN.hashingWarmupSeconds })
  await settle(server)
  for (let r = 0; r < PLAN.loginRounds; r++) {
    const raw = await rawArgon2(server, plan.op, plan.concurrency)
    rounds.ceiling.push(raw.rate)
    rounds.cpuMsPerRaw.push(raw.cpuMs)
    if (plan.secondConcurrency !== undefined) rounds.secondCeiling.push((await rawArgon2(server, plan.op, plan.secondConcurrency)).rate)
    const round = await hashingRound(server, plan.load(r), plan.okStatus)
    rounds.rates.push(round.rate)
    rounds.eventLoopMs.push(round.eventLoopMs)
    rounds.eventLoopBusyMs.push(round.eventLoopBusyMs)
    rounds.cpuMsPerRequest.push(round.cpuMs)
    rounds.unexpected += round.unexpected
    progress(`(b) ${plan.what} round ${r + 1}/${PLAN.loginRounds}: ceiling ${raw.rate.toFixed(1)} ${plan.op}/s, ${plan.what} ${round.rate.toFixed(1)}/s`)
  }
  return rounds
}

/**
 * (b): logins per second against raw argon2 verifications at the plugin's `hashing.concurrency` and at every
 * core, alternating; one ceiling when the two are the same (the plugin's default with low-priority hashing).
 */
async function logins (server: Server, opened: Opened): Promise<LoginSection> {
  const concurrency = opened.hashingConcurrency
  const allCores = availableParallelism()
  const rounds = await hashingRounds(server, {
    what: 'logins',
    op: 'verify',
    concurrency,
    ...(allCores === concurrency ? {} : { secondConcurrency: allCores }),
    load: () => loginLoad(opened, {}),
    okStatus: 200
  })
  const everyCore = allCores === concurrency ? rounds.ceiling : rounds.secondCeiling
  const testHash = await testHashLogins(server, opened, median(rounds.rates))
  return {
    concurrency,
    ceiling: rounds.ceiling,
    logins: rounds.rates,
    ratio: median(ratios(rounds.rates, rounds.ceiling)),
    allCores,
    ceilingAllCores: everyCore,
    ratioAllCores: median(ratios(rounds.rates, everyCore)),
    eventLoopMsPerLogin: median(rounds.eventLoopMs),
    eventLoopBusyMsPerLogin: median(rounds.eventLoopBusyMs),
    eventLoopMsPerLoginCold: rounds.coldEventLoopMs,
    eventLoopMsPerLoginTestHashBurst: median(testHash.burst),
    eventLoopMsPerLoginTestHash: median(testHash.paced),
    eventLoopMsPerLoginTestHashBeside: median(testHash.beside),
    cpuMsPerVerify: median(rounds.cpuMsPerRaw),
    cpuMsPerLogin: median(rounds.cpuMsPerRequest),
    unexpected: rounds.unexpected
  }
}

/** What `testHashLogins` measured, one value per round. */
interface TestHashRounds {
  /** One connection, the logins back to back (autocannon's `overallRate`). */
  burst: number[]
  /** One connection, the logins at an even pace (`runPaced`). */
  paced: number[]
  /** The same at an even pace, with argon2id running on every core at the lowest priority in another process. */
  beside: number[]
}

/**
 * (b)'s logins once more, against the app whose hash costs next to nothing (`testHashing`), after the same
 * warm-up, at the rate the real logins reached: the event loop's CPU per login with no argon2 in it, three
 * ways, to tell apart what the judged figure is made of (see docs/performance.md, the run of 2026-12-02, 23:40 UTC):
 * - back to back, in the bursts autocannon's `overallRate` sends (each second's budget at once): the login's
 *   own work with the loop's caches warm from the login before;
 * - at an even pace, one at a time with the loop idle in between, as real logins arrive;
 * - at an even pace while argon2id runs on every core at the lowest priority, as the plugin's hashing
 *   threads do during the real logins, but in another process (`argon2Beside`), with nothing of it on the
 *   measured loop: what sharing the cores and their caches with argon2 costs a login.
 */
async function testHashLogins (server: Server, opened: Opened, rate: number): Promise<TestHashRounds> {
  const burst = loginLoad(opened, {
    url: `http://127.0.0.1:${opened.ports.testHash}/o/token/`,
    body: new URLSearchParams({ grant_type: 'password', username: BENCH_TEST_HASH_USERNAME, password: opened.password, client_id: opened.clientId }).toString(),
    connections: 1,
    overallRate: Math.max(1, Math.round(rate))
  })
  const paced = { ...burst, rate: Math.max(1, rate) }
  await runLoad({ ...burst, duration: PLAN.hashingWarmupSeconds })
  await settle(server)
  const rounds = async (load: LoadOptions | (() => Promise<LoadResult>)): Promise<number[]> => {
    const perRound: number[] = []
    for (let r = 0; r < PLAN.loginRounds; r++) {
      const round = await hashingRound(server, load, 200)
      if (round.unexpected > 0) throw new Error(`(b) test-hash logins: ${round.unexpected} answers were not 200`)
      perRound.push(round.eventLoopMs)
    }
    return perRound
  }
  const result: TestHashRounds = {
    burst: await rounds(burst),
    paced: await rounds(async () => await runPaced(paced)),
    beside: []
  }
  const beside = await Server.start()
  try {
    result.beside = await rounds(async () => {
      const threads = availableParallelism()
      const argon2 = beside.call('argon2Beside', { threads, durationMs: (paced.duration + ARGON2_BESIDE_LEAD_SECONDS) * 1000 }, 60_000)
      // Awaited below; should the paced load fail first, its failure is the one reported.
      argon2.catch(() => {})
      await sleep(ARGON2_BESIDE_LEAD_SECONDS * 1000)
      const load = await runPaced(paced)
      await argon2
      return load
    })
  } finally {
    await beside.close()
  }
  progress(`(b) logins with a test hash at ${Math.round(rate)}/s, event-loop ms each: back to back ${result.burst.map((ms) => ms.toFixed(2)).join(', ')}; ` +
    `at an even pace ${result.paced.map((ms) => ms.toFixed(2)).join(', ')}; the same beside argon2 ${result.beside.map((ms) => ms.toFixed(2)).join(', ')}`)
  return result
}

/** How long `argon2Beside`'s threads run before the paced load starts: their threads started and busy. */
const ARGON2_BESIDE_LEAD_SECONDS = 0.5

/** Where a sign-up's body takes its number: each sign-up a new username. */
const SIGN_UP_COUNTER = '{n}'

/** Sign-ups of new users `signup-<tag>-<n>`: `tag` tells the loads of one run apart. */
function signUpLoad (opened: Opened, tag: string, options: Partial<LoadOptions>): LoadOptions {
  return {
    url: `http://127.0.0.1:${opened.ports.plain}/sign_up/`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: `signup-${tag}-${SIGN_UP_COUNTER}`, password: opened.password }),
    bodyCounter: SIGN_UP_COUNTER,
    connections: opened.hashingConcurrency * 4,
    duration: PLAN.loginSeconds,
    ...options
  }
}

/** (b) for sign-ups: sign-ups per second against raw argon2 hashes (the plugin's parameters) at every core. */
async function signUps (server: Server, opened: Opened): Promise<SignUpSection> {
  const allCores = availableParallelism()
  const rounds = await hashingRounds(server, {
    what: 'sign-ups',
    op: 'hash',
    concurrency: allCores,
    load: (round) => signUpLoad(opened, typeof round === 'number' ? `r${round}` : round, {}),
    okStatus: 201
  })
  return {
    allCores,
    ceilingAllCores: rounds.ceiling,
    signUps: rounds.rates,
    ratioAllCores: median(ratios(rounds.rates, rounds.ceiling)),
    eventLoopMsPerSignUp: median(rounds.eventLoopMs),
    eventLoopBusyMsPerSignUp: median(rounds.eventLoopBusyMs),
    eventLoopMsPerSignUpCold: rounds.coldEventLoopMs,
    cpuMsPerHash: median(rounds.cpuMsPerRaw),
    cpuMsPerSignUp: median(rounds.cpuMsPerRequest),
    unexpected: rounds.unexpected
  }
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

/** What a storm sends: one request, its body numbered or not. */
type StormRequest = Pick<StormOptions, 'url' | 'headers' | 'body' | 'bodyCounter'>

/**
 * (c): the protected route at a fixed rate, idle and during a storm of `request` offered at twice the
 * route's `capacity` (per second) in an open loop; `okStatus` is the route's success.
 */
async function storm (server: Server, opened: Opened, what: string, request: StormRequest, capacity: number, okStatus: number): Promise<StormSection> {
  const authorizations = sampleIndexes(ACTIVE_TOKENS, TOKENS, seededRandom(11)).map((i) => `Bearer ${benchToken(i)}`)
  const idle = await runLoad(probeLoad(opened.ports.plain, authorizations, PLAN.idleSeconds))
  const offeredRate = Math.max(2, Math.round(2 * capacity))
  // Long enough for the excess to fill the hashing queue (256 by default), then the probe runs.
  const rampSeconds = Math.min(PLAN.stormRampMaxSeconds, Math.ceil(HASHING_QUEUE / Math.max(1, offeredRate - capacity)) + 1)
  const stormSeconds = rampSeconds + PLAN.stormProbeSeconds + 1
  const child = forkTs('storm.ts')
  const stormResult = new Promise<LoadResult>((resolve, reject) => {
    child.once('message', (message: { ok: boolean, result: LoadResult, error: string }) => {
      if (message.ok) resolve(message.result)
      else reject(new Error(`storm: ${message.error}`))
    })
    child.once('exit', (code) => reject(new Error(`the storm process exited (${String(code)})`)))
  })
  child.send({ ...request, rate: offeredRate, duration: stormSeconds, timeout: STORM_TIMEOUT_SECONDS } satisfies StormOptions)
  await sleep(rampSeconds * 1000)
  const during = await runLoad(probeLoad(opened.ports.plain, authorizations, PLAN.stormProbeSeconds))
  const result = await within((stormSeconds + STORM_TIMEOUT_SECONDS + 30) * 1000, 'storm', stormResult)
  await settle(server)
  const ok = result.byStatus[String(okStatus)]?.count ?? 0
  const shed = result.byStatus['503']?.count ?? 0
  progress(`(c) ${what} storm: idle p99 ${idle.latency.p99.toFixed(2)} ms, storm p99 ${during.latency.p99.toFixed(2)} ms; ` +
    `storm ${ok} ok, ${shed} shed, ${result.timeouts} timeouts`)
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

/** The request of a load, as a storm sends it. */
function stormRequest (load: LoadOptions): StormRequest {
  return { url: load.url, headers: load.headers ?? {}, body: load.body ?? '', bodyCounter: load.bodyCounter }
}

/**
 * The plugin's options in every server: the throttle on, as by default, but with limits that no load of
 * the bench reaches ((b) and (c) log one user in, and sign users up, from one address at full speed, which
 * the default limits would answer with 429s): every attempt still costs its counter writes, as in a
 * deployment. And --hashing-concurrency.
 */
const PLUGIN = {
  throttle: { loginFailuresPerUser: 1_000_000_000, loginFailuresPerIp: 1_000_000_000, signUpsPerIp: 1_000_000_000 },
  ...(flags['hashing-concurrency'] === undefined ? {} : { hashing: { concurrency: Number(flags['hashing-concurrency']) } })
}

/** The live tokens of (a), (b) and (d): the table the routes use, and a small one to compare (d) with. */
const SEED_PLANS = [{ prefix: 'oauth2_', tokens: TOKENS }, { prefix: 'small_', tokens: PLAN.smallTokens }]
/** How long a database's seeding may take. */
const SEED_BOUND_MS = 180_000

/** Seeds a database with SEED_PLANS (SQLite's in a child process: see `seedSqliteInChild`); returns the seconds. */
async function seedMain (dialect: 'sqlite' | 'postgres', url: string): Promise<number> {
  progress(`${dialect}: seeding ${TOKENS.toLocaleString('en-US')} + ${PLAN.smallTokens.toLocaleString('en-US')} tokens`)
  const [seconds = Number.NaN] = dialect === 'sqlite'
    ? await seedSqliteInChild(url, SEED_PLANS, SEED_BOUND_MS)
    : await within(SEED_BOUND_MS, 'seeding', seedDatabase(url, SEED_PLANS))
  progress(`${dialect}: seeded in ${seconds.toFixed(1)} s`)
  return seconds
}

/** One seeded database: a server on it, then the measures. `full` adds (b), (c) and (e); PostgreSQL adds (g). */
async function measureDatabase (dialect: 'sqlite' | 'postgres', url: string, full: boolean, seedSeconds: number): Promise<DatabaseReport> {
  const server = await Server.start()
  try {
    const opened: Opened = await server.call('open', { url, fastPath: !flags['slow-path'], tokenCache: TOKEN_CACHE, pragmas: flags.pragma, plugin: PLUGIN })
    const afterSeed = (await server.memory()).rss
    progress(`${dialect}: server up (ports ${opened.ports.plain}, ${opened.ports.cached})`)
    const tableSizeSection = await tableSize(server)
    progress(`(d) ${dialect}: ${median(tableSizeSection.small).toFixed(2)} µs vs ${median(tableSizeSection.large).toFixed(2)} µs per check`)
    const rssRounds: number[] = []
    const routesSection = await routes(server, opened, rssRounds)
    const hooks = await hookCosts(server)
    progress(`(a') ${dialect}: cached check ${(median(hooks.cachedNs) / 1000).toFixed(2)} µs, floor ${(median(hooks.floorNs) / 1000).toFixed(2)} µs per call`)
    const report: DatabaseReport = { dialect, seed: { tokens: TOKENS, seconds: seedSeconds }, routes: routesSection, hooks, tableSize: tableSizeSection }
    if (full) {
      report.logins = await logins(server, opened)
      const code = await codeFlows(opened)
      report.logins = { ...report.logins, codeFlows: code }
      progress(`(b) authorization code flows with a session: ${code.perSecond.toFixed(1)}/s`)
      report.signUps = await signUps(server, opened)
      report.storm = await storm(server, opened, 'login', stormRequest(loginLoad(opened, {})), median(report.logins.logins), 200)
      report.signUpStorm = await storm(server, opened, 'sign-up', stormRequest(signUpLoad(opened, 'storm', {})), median(report.signUps.signUps), 201)
      const afterRun = (await server.memory()).rss
      const memory: MemorySection = {
        afterSeed,
        rounds: rssRounds,
        afterRun,
        growth: (rssRounds.at(-1) as number) - (rssRounds[0] as number)
      }
      report.memory = memory
    }
    if (dialect === 'postgres') {
      report.cache = await cacheInvalidation(server, { url, tokens: PLAN.cacheTokens, tokenCache: TOKEN_CACHE, plugin: PLUGIN, giveUpMs: INVALIDATION_GIVE_UP_MS })
    }
    return report
  } finally {
    await server.close()
  }
}

/** A PostgreSQL server of the bench's own, seeded, and how to stop it. */
interface PreparedPostgres {
  url: string
  seedSeconds: number
  destroy: () => Promise<void>
}

/** Starts PostgreSQL (when its binaries are installed) and seeds it. */
async function preparePostgres (): Promise<PreparedPostgres | { skipped: string }> {
  if (flags['no-postgres']) return { skipped: '--no-postgres' }
  const binDir = findPostgresBinDir()
  if (binDir === null) return { skipped: 'PostgreSQL binaries not found' }
  let destroy = async (): Promise<void> => {}
  try {
    const server = await within(120_000, 'PostgreSQL start', launchPostgres(binDir, (d) => { destroy = d }))
    progress(`postgres: server up on port ${server.port}`)
    return { url: server.url, seedSeconds: await seedMain('postgres', server.url), destroy }
  } catch (err) {
    await destroy()
    throw err
  }
}

async function main (): Promise<void> {
  const watchdogMs = WATCHDOG_MS + (flags['no-cleanup'] ? 0 : cleanupWatchdogMs(CLEANUP_TOKENS, CLEANUP_MAX_SECONDS))
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: still running after ${(watchdogMs / 60_000).toFixed(1)} minutes: stopping\n`)
    killChildren()
    process.exit(2)
  }, watchdogMs)
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
  const mainUrl = `sqlite:${join(dir, 'bench.db')}`
  const cleanupPlan = {
    url: `sqlite:${join(dir, 'cleanup.db')}`,
    expiredTokens: CLEANUP_TOKENS,
    liveTokens: PLAN.cleanupLiveTokens,
    idleSeconds: PLAN.idleSeconds,
    maxSeconds: CLEANUP_MAX_SECONDS,
    plugin: PLUGIN
  }
  let sqlite: DatabaseReport
  let postgres: DatabaseReport | { skipped: string }
  let prepared: PreparedPostgres | { skipped: string } | undefined
  try {
    // Nothing is measured while the databases are made, so they are made before any measure, two at a
    // time: (f)'s ten million rows keep about one core busy for minutes, and the others, one after the
    // other, use the second (a third at once would slow (f)'s down as much as it saved).
    const others = (async () => {
      const mainSeconds = await seedMain('sqlite', mainUrl)
      prepared = await preparePostgres()
      return { mainSeconds, pg: prepared }
    })()
    const [cleanupSeed, othersSeed] = await Promise.allSettled([
      flags['no-cleanup'] ? Promise.resolve(Number.NaN) : seedCleanup(cleanupPlan),
      others
    ])
    if (othersSeed.status === 'rejected') throw othersSeed.reason
    if (cleanupSeed.status === 'rejected') throw cleanupSeed.reason
    const { mainSeconds, pg } = othersSeed.value
    sqlite = await measureDatabase('sqlite', mainUrl, true, mainSeconds)
    rmSync(join(dir, 'bench.db'), { force: true })
    sqlite.cleanup = flags['no-cleanup']
      ? { skipped: '--no-cleanup' }
      : await cleanupAtScale(cleanupPlan, cleanupSeed.value)
    rmSync(join(dir, 'cleanup.db'), { force: true })
    postgres = 'skipped' in pg ? pg : await measureDatabase('postgres', pg.url, false, pg.seedSeconds)
  } finally {
    if (prepared !== undefined && 'destroy' in prepared) await prepared.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
  const seconds = elapsedSeconds()
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
    targets: allTargets({ sqlite, postgres, seconds }),
    seconds
  }
  process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : formatReport(report))
}

main().then(() => process.exit(0), (err: Error) => {
  process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`)
  killChildren()
  process.exit(1)
})
