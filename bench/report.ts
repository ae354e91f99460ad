/**
 * The benchmark's report: its shape (what `--json` prints), the targets checked against it, and
 * the readable tables. Pure functions, tested in test/bench.test.ts.
 */
import { checkTarget, median, percentile, ratios, type LatencySummary, type TargetCheck } from './stats.js'

/** One timed load of one route: what the load generator saw and what the server's CPU spent. */
export interface RouteRound {
  /** Responses per second. */
  rate: number
  p50: number
  p99: number
  /** Server CPU microseconds (user + system) per response. */
  cpuMicros: number
  /** Responses other than 200 (none expected). */
  unexpected: number
}

/** (a) open route vs protected route, without and with the token cache, alternating for several rounds. */
export interface RoutesSection {
  rounds: Array<{ open: RouteRound, protected: RouteRound, cached: RouteRound, floor: RouteRound }>
  /** Median over rounds of protected/open CPU per request. */
  cpuRatio: number
  cpuRatioCached: number
  /** Median over rounds of protected/open requests per second. */
  rateRatio: number
  rateRatioCached: number
  /**
   * Median over rounds of floor/open CPU per request: `GET /me-floor` reads and hashes the token like
   * the guard, then answers like `GET /me`, with no lookup. The least any hash-keyed check can cost.
   */
  cpuRatioFloor: number
  /** Median over rounds of cached/floor CPU per request: what the cached check costs above the floor. */
  cpuRatioCachedFloor: number
}

/**
 * (a') the cached check and the floor without HTTP: the cached app's guard and `GET /me-floor`'s hook
 * called in the server process, alternating blocks, every cached call a hit.
 */
export interface HookSection {
  /** Milliseconds of each block. */
  blockMs: number
  /** CPU nanoseconds per call of the guard (a cache hit), each block. */
  cachedNs: number[]
  /** CPU nanoseconds per call of the floor's hook, each block. */
  floorNs: number[]
  /** Median of the pairs' cached/floor. */
  ratio: number
}

/** (b) logins per second against the raw argon2 verification rate. */
export interface LoginSection {
  /** The plugin's `hashing.concurrency`: raw verifications at once for `ceiling`. */
  concurrency: number
  /** Verifications per second of each ceiling round, at `concurrency`. */
  ceiling: number[]
  /** Logins (200s) per second of each login round. */
  logins: number[]
  /** Median over rounds of logins/ceiling. */
  ratio: number
  /** Raw verifications at once for `ceilingAllCores`: every core (`os.availableParallelism()`). */
  allCores: number
  /**
   * Verifications per second at every core, each round: the same series as `ceiling` when `concurrency`
   * is every core (the plugin's default with low-priority hashing), measured beside it otherwise.
   */
  ceilingAllCores: number[]
  /** Median over rounds of logins/ceilingAllCores: what the logins make of the whole machine. */
  ratioAllCores: number
  /**
   * CPU milliseconds of the server's event-loop thread per login (median over rounds): everything but the
   * hash. Where the OS does not tell a thread's CPU time (not Linux), the loop's busy time instead.
   */
  eventLoopMsPerLogin: number
  /**
   * Milliseconds the event loop was busy per login (`performance.eventLoopUtilization()`): its CPU, plus the
   * moments it was ready to run but waited for a core or for memory the hashing threads had taken.
   */
  eventLoopBusyMsPerLogin: number
  /**
   * The event loop thread's CPU milliseconds per login over the route's first seconds, before the warm-up
   * (V8 has not yet optimized its code): reported, not judged.
   */
  eventLoopMsPerLoginCold: number
  /**
   * The event loop thread's CPU milliseconds per login with a hash that costs next to nothing (the plugin's
   * `testHashing`), at the rate of the measured logins (medians over rounds), reported and not judged: back
   * to back on one connection (`...Burst`: the login's own work, the loop's caches warm); at an even pace,
   * one at a time with the loop idle in between, as real logins arrive; and at that pace while argon2id runs
   * on every core at the lowest priority in another process (`...Beside`), as the plugin's hashing threads do
   * during the real logins. What `eventLoopMsPerLogin` has more than `...Beside` is the loop's own share of
   * the hashing (handing the hashes to the threads and taking their answers).
   */
  eventLoopMsPerLoginTestHashBurst: number
  eventLoopMsPerLoginTestHash: number
  eventLoopMsPerLoginTestHashBeside: number
  /** Server CPU milliseconds per raw verification and per login (medians): the difference is the rest. */
  cpuMsPerVerify: number
  cpuMsPerLogin: number
  /** Responses other than 200 during the login rounds. */
  unexpected: number
  /**
   * Authorization code flows (authorize → code → token) per second with a session, no password hashed, and
   * how many of them did not end in a 200.
   */
  codeFlows?: { perSecond: number, failures: number }
}

/** (b) sign-ups (`POST /sign_up/`, a new username each) per second against raw argon2 hashing at every core. */
export interface SignUpSection {
  /** Raw hashes at once: every core (`os.availableParallelism()`). */
  allCores: number
  /** Hashes per second (the plugin's parameters) of each ceiling round. */
  ceilingAllCores: number[]
  /** Sign-ups (201s) per second of each round. */
  signUps: number[]
  /** Median over rounds of signUps/ceilingAllCores. */
  ratioAllCores: number
  /** CPU milliseconds of the server's event-loop thread per sign-up (median over rounds), as for logins. */
  eventLoopMsPerSignUp: number
  /** Milliseconds the event loop was busy per sign-up, as for logins. */
  eventLoopBusyMsPerSignUp: number
  /** The same over the route's first seconds, before the warm-up, as for logins. */
  eventLoopMsPerSignUpCold: number
  /** Server CPU milliseconds per raw hash and per sign-up (medians). */
  cpuMsPerHash: number
  cpuMsPerSignUp: number
  /** Responses other than 201 during the sign-up rounds. */
  unexpected: number
}

/**
 * (c) the protected route's latency, idle and during a storm of logins (or of sign-ups) offered at twice
 * their capacity.
 */
export interface StormSection {
  /** Requests per second, sent whatever the answers (an open loop). */
  offeredRate: number
  /** Seconds of storm before the probe started (the queue filling). */
  rampSeconds: number
  /** Seconds after which a storm request counted as timed out. */
  timeoutSeconds: number
  idle: LatencySummary
  during: LatencySummary
  /** during.p99 / idle.p99 */
  p99Ratio: number
  storm: {
    responses: number
    ok: number
    shed: number
    other: number
    timeouts: number
    errors: number
    /** Latencies of the 503 answers. */
    shedLatency: LatencySummary | null
  }
}

/** (d) the bearer check's cost, one check at a time, on a small and on the full table. */
export interface TableSizeSection {
  smallTokens: number
  largeTokens: number
  /** Distinct tokens each timed round cycles through, on either table. */
  activeTokens: number
  /** Microseconds (wall) per check, each round. */
  small: number[]
  large: number[]
  /** Median over rounds of large/small. */
  ratio: number
  /** Microseconds of CPU per check, medians. */
  smallCpu: number
  largeCpu: number
  /** Microseconds (wall) per check when every check draws a new token from the whole table (one round). */
  uniform: { small: number, large: number }
}

/** (e) the server's RSS in bytes. */
export interface MemorySection {
  afterSeed: number
  /** After each round of (a), in order. */
  rounds: number[]
  afterRun: number
  /** Last round minus first round. */
  growth: number
}

/**
 * (f) the library's cleanup (`deleteExpired`, default batch size, in the server process) of a table of
 * expired tokens on SQLite, with the protected route probed at a fixed rate, idle and during it.
 */
export interface CleanupSection {
  /** Expired token records seeded, and live ones (those the probe presents). */
  expiredTokens: number
  liveTokens: number
  /** Seconds the seeding of this table took. */
  seedSeconds: number
  /** Token records deleted, and the seconds the cleanup ran. */
  rows: number
  seconds: number
  /** rows / seconds */
  rowsPerSecond: number
  /** Whether the cleanup ended by itself, rather than at the bench's bound (`--cleanup-max-seconds`). */
  finished: boolean
  /** The bench's bound, in seconds. */
  maxSeconds: number
  /** Expired records still there afterwards (0 when finished). */
  expiredLeft: number
  /** Milliseconds each batch of token deletions took, from the store's call to its answer. */
  batches: LatencySummary
  idle: LatencySummary
  during: LatencySummary
  /** during.p99 / idle.p99 */
  p99Ratio: number
  /** Probe responses other than 200, idle and during. */
  unexpected: number
  /** Live tokens checked afterwards, all answered 200 (the bench fails otherwise). */
  liveChecked: number
}

/**
 * (g) on PostgreSQL: a revocation on one instance of the app (`POST /o/revoke_token/`) until another instance,
 * whose token cache held the token, refuses it (`GET /me` polled without pause): milliseconds from the
 * revocation's response to the first 401.
 */
export interface CacheSection {
  /** Tokens revoked, one at a time. */
  tokens: number
  p50Ms: number
  invalidationP99Ms: number
  maxMs: number
  /** Tokens still accepted after `giveUpMs`: not counted in the percentiles. */
  failures: number
  giveUpMs: number
  /** Polls of the second instance per revocation, median. */
  pollsMedian: number
}

export interface DatabaseReport {
  dialect: 'sqlite' | 'postgres'
  seed: { tokens: number, seconds: number }
  routes: RoutesSection
  hooks: HookSection
  tableSize: TableSizeSection
  logins?: LoginSection
  signUps?: SignUpSection
  storm?: StormSection
  signUpStorm?: StormSection
  memory?: MemorySection
  cleanup?: CleanupSection | { skipped: string }
  cache?: CacheSection
}

export interface Report {
  machine: { date: string, node: string, platform: string, cpus: number, cpuModel: string, memoryGiB: number, loadAverage: number[] }
  settings: { quick: boolean, tokens: number, smallTokens: number, roundSeconds: number, rounds: number, connections: number, tokenCache: { max: number, ttl: number } }
  sqlite: DatabaseReport
  postgres: DatabaseReport | { skipped: string }
  targets: TargetCheck[]
  seconds: number
}

/**
 * (g)'s figures: percentiles of the milliseconds from a revocation to the refusal, over the revocations that
 * were refused in time (`samples`); `failures` were not, within `giveUpMs`. `polls` per revocation.
 */
export function invalidationSummary (samples: readonly number[], polls: readonly number[], failures: number, giveUpMs: number): CacheSection {
  return {
    tokens: samples.length + failures,
    p50Ms: percentile(samples, 50),
    invalidationP99Ms: percentile(samples, 99),
    maxMs: samples.length === 0 ? Number.NaN : Math.max(...samples),
    failures,
    giveUpMs,
    pollsMedian: median(polls)
  }
}

/** Relative RSS growth across the sustained rounds that still counts as noise. */
export const RSS_NOISE = 0.05

/** The routes of (a). */
export type Route = keyof RoutesSection['rounds'][number]

/** The medians of per-round ratios of (a). */
export function routeRatios (rounds: RoutesSection['rounds']): Omit<RoutesSection, 'rounds'> {
  const pick = (route: Route, field: 'cpuMicros' | 'rate'): number[] => rounds.map((round) => round[route][field])
  return {
    cpuRatio: median(ratios(pick('protected', 'cpuMicros'), pick('open', 'cpuMicros'))),
    cpuRatioCached: median(ratios(pick('cached', 'cpuMicros'), pick('open', 'cpuMicros'))),
    rateRatio: median(ratios(pick('protected', 'rate'), pick('open', 'rate'))),
    rateRatioCached: median(ratios(pick('cached', 'rate'), pick('open', 'rate'))),
    cpuRatioFloor: median(ratios(pick('floor', 'cpuMicros'), pick('open', 'cpuMicros'))),
    cpuRatioCachedFloor: median(ratios(pick('cached', 'cpuMicros'), pick('floor', 'cpuMicros')))
  }
}

/** The whole `npm run bench` on two cores, in seconds (issue 16). */
export const RUN_SECONDS_TARGET = 480

/** The issues' targets, checked against one database's report (`label` prefixes each name). */
export function databaseTargets (label: string, report: DatabaseReport): TargetCheck[] {
  const { routes } = report
  // (a): issue 16 judges SQLite without the cache and the cached check against its floor, PostgreSQL with it.
  const checks = report.dialect === 'sqlite'
    ? [
        checkTarget(`${label} (a) protected/open CPU per request, no cache`, routes.cpuRatio, 'max', 1.5),
        checkTarget(`${label} (a) cached/floor CPU per request`, routes.cpuRatioCachedFloor, 'max', 1.1)
      ]
    : [checkTarget(`${label} (a) protected/open CPU per request, cache`, routes.cpuRatioCached, 'max', 1.5)]
  checks.push(checkTarget(`${label} (d) check cost, large/small table`, report.tableSize.ratio, 'max', 1.25))
  if (report.logins !== undefined) {
    checks.push(
      checkTarget(`${label} (b) logins/ceiling, every core`, report.logins.ratioAllCores, 'min', 0.85),
      checkTarget(`${label} (b) event loop ms per login`, report.logins.eventLoopMsPerLogin, 'max', 1)
    )
  }
  if (report.signUps !== undefined) {
    checks.push(checkTarget(`${label} (b) sign-ups/ceiling, every core`, report.signUps.ratioAllCores, 'min', 0.85))
  }
  for (const [what, storm] of [['login', report.storm], ['sign-up', report.signUpStorm]] as const) {
    if (storm === undefined) continue
    checks.push(
      checkTarget(`${label} (c) protected p99 ${what} storm/idle`, storm.p99Ratio, 'max', 3),
      checkTarget(`${label} (c) ${what} storm timeouts`, storm.storm.timeouts, 'max', 0)
    )
  }
  if (report.memory !== undefined) {
    checks.push(checkTarget(`${label} (e) RSS growth across rounds (fraction)`, report.memory.growth / (report.memory.rounds[0] as number), 'max', RSS_NOISE))
  }
  if (report.cleanup !== undefined && !('skipped' in report.cleanup)) {
    checks.push(
      checkTarget(`${label} (f) protected p99 cleanup/idle`, report.cleanup.p99Ratio, 'max', 3)
    )
  }
  if (report.cache !== undefined) {
    // The tests hold a revocation to 100 ms on the other instance; the issue sets no number for the bench.
    checks.push(
      checkTarget(`${label} (g) cache invalidation p99 ms`, report.cache.invalidationP99Ms, 'max', 100),
      checkTarget(`${label} (g) revocations not refused within ${report.cache.giveUpMs} ms`, report.cache.failures, 'max', 0)
    )
  }
  return checks
}

/** Every target of a run. */
export function allTargets (report: Pick<Report, 'sqlite' | 'postgres' | 'seconds'>): TargetCheck[] {
  const checks = databaseTargets('SQLite', report.sqlite)
  if (!('skipped' in report.postgres)) checks.push(...databaseTargets('PostgreSQL', report.postgres))
  checks.push(checkTarget('whole run, seconds', report.seconds, 'max', RUN_SECONDS_TARGET))
  return checks
}

/** A number for a table: `digits` decimals, `-` when not a number. */
export function num (value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-'
}

function mib (bytes: number): string {
  return `${num(bytes / 1_048_576, 1)} MiB`
}

/** Rows of cells as a text table: the first row is the header, columns padded, numbers right-aligned. */
export function table (rows: readonly string[][]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length) })
  const line = (row: readonly string[]): string => row
    .map((cell, i) => /^[-+]?[\d.,]+( \w+)?$|^-$/.test(cell) && i > 0 ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number))
    .join('  ')
    .trimEnd()
  const [header = [], ...body] = rows
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

function latencyCells (summary: LatencySummary): string[] {
  return [num(summary.p50, 2), num(summary.p99, 2), num(summary.max, 2)]
}

function databaseText (name: string, report: DatabaseReport): string {
  const out: string[] = [`## ${name}: ${report.seed.tokens.toLocaleString('en-US')} live tokens seeded in ${num(report.seed.seconds, 1)} s`]
  const { routes } = report
  const medianOf = (route: Route, field: keyof RouteRound): number => median(routes.rounds.map((r) => r[route][field]))
  out.push('', '(a) open vs protected route, medians of ' + String(routes.rounds.length) + ' alternating rounds', table([
    ['route', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'non-200'],
    ...(['open', 'protected', 'cached', 'floor'] as const).map((route) => [
      { open: 'GET /ping (open)', protected: 'GET /me (no cache)', cached: 'GET /me (token cache)', floor: 'GET /me-floor (hash only)' }[route],
      num(medianOf(route, 'rate')), num(medianOf(route, 'p50'), 2), num(medianOf(route, 'p99'), 2),
      num(medianOf(route, 'cpuMicros'), 1), num(routes.rounds.reduce((n, r) => n + r[route].unexpected, 0))
    ])
  ]), table([
    ['ratio (median of per-round ratios)', 'no cache', 'cache'],
    ['protected/open CPU per request', num(routes.cpuRatio, 3), num(routes.cpuRatioCached, 3)],
    ['protected/open requests per second', num(routes.rateRatio, 3), num(routes.rateRatioCached, 3)]
  ]), `floor/open CPU per request: ${num(routes.cpuRatioFloor, 3)} (a hook that only hashes the token, answering like GET /me)`,
  `cached/floor CPU per request: ${num(routes.cpuRatioCachedFloor, 3)} (what the cached check costs above the floor)`)
  const { hooks } = report
  const cachedUs = median(hooks.cachedNs) / 1000
  const floorUs = median(hooks.floorNs) / 1000
  out.push('', `(a') the two hooks alone, called in the server, ${String(hooks.cachedNs.length)} pairs of ${String(hooks.blockMs)} ms blocks: ` +
    `cached check ${num(cachedUs, 2)} µs, floor ${num(floorUs, 2)} µs of CPU per call; ` +
    `cached/floor ${num(hooks.ratio, 3)}; the difference is ${num(cachedUs - floorUs, 2)} µs, ` +
    `${num(100 * (cachedUs - floorUs) / medianOf('cached', 'cpuMicros'), 1)}% of a cached request's CPU in (a)`)
  const size = report.tableSize
  out.push('', `(d) bearer check, one at a time, ${size.activeTokens.toLocaleString('en-US')} active tokens drawn at random from the table`, table([
    ['table', 'tokens', 'µs/check (wall)', 'µs/check (CPU)', 'µs/check, each a new token'],
    ['small', size.smallTokens.toLocaleString('en-US'), num(median(size.small), 2), num(size.smallCpu, 2), num(size.uniform.small, 2)],
    ['large', size.largeTokens.toLocaleString('en-US'), num(median(size.large), 2), num(size.largeCpu, 2), num(size.uniform.large, 2)]
  ]), `large/small: ${num(size.ratio, 3)} (each check a new token: ${num(size.uniform.large / size.uniform.small, 3)})`)
  if (report.logins !== undefined) {
    const { logins } = report
    const sameCeiling = logins.allCores === logins.concurrency
    out.push('', `(b) password logins vs raw argon2 verify, concurrency ${logins.concurrency}` +
      (sameCeiling ? ' (every core)' : `, and at every core (${logins.allCores})`), table([
      ['round', 'ceiling verify/s', ...(sameCeiling ? [] : ['every core verify/s']), 'logins/s'],
      ...logins.ceiling.map((c, i) => [
        String(i + 1), num(c, 1), ...(sameCeiling ? [] : [num(logins.ceilingAllCores[i] as number, 1)]), num(logins.logins[i] as number, 1)
      ])
    ]), `logins/ceiling: ${num(logins.ratio, 3)}; at every core: ${num(logins.ratioAllCores, 3)}; non-200 logins: ${logins.unexpected}`,
    `server CPU per raw verify ${num(logins.cpuMsPerVerify, 2)} ms, per login ${num(logins.cpuMsPerLogin, 2)} ms; ` +
      `event loop per login ${num(logins.eventLoopMsPerLogin, 2)} ms of its thread's CPU, busy ${num(logins.eventLoopBusyMsPerLogin, 2)} ms; ` +
      `cold (its first seconds) ${num(logins.eventLoopMsPerLoginCold, 2)} ms; ` +
      `with a test hash at the same rate: back to back ${num(logins.eventLoopMsPerLoginTestHashBurst, 2)} ms, ` +
      `at an even pace ${num(logins.eventLoopMsPerLoginTestHash, 2)} ms, the same beside argon2 on every core ${num(logins.eventLoopMsPerLoginTestHashBeside, 2)} ms`)
    if (logins.codeFlows !== undefined) {
      const { perSecond, failures } = logins.codeFlows
      out.push(`authorization code flows with a session (authorize → code → token, PKCE): ${num(perSecond, 1)}/s, ` +
        `${num(perSecond / median(logins.logins), 1)}× the password grant's logins/s; failed flows: ${failures}`)
    }
  }
  if (report.signUps !== undefined) {
    const { signUps } = report
    out.push('', `(b) sign-ups (a new username each) vs raw argon2 hash, every core (${signUps.allCores})`, table([
      ['round', 'ceiling hash/s', 'sign-ups/s'],
      ...signUps.ceilingAllCores.map((c, i) => [String(i + 1), num(c, 1), num(signUps.signUps[i] as number, 1)])
    ]), `sign-ups/ceiling: ${num(signUps.ratioAllCores, 3)}; non-201 sign-ups: ${signUps.unexpected}`,
    `server CPU per raw hash ${num(signUps.cpuMsPerHash, 2)} ms, per sign-up ${num(signUps.cpuMsPerSignUp, 2)} ms; ` +
      `event loop per sign-up ${num(signUps.eventLoopMsPerSignUp, 2)} ms of its thread's CPU, busy ${num(signUps.eventLoopBusyMsPerSignUp, 2)} ms; ` +
      `cold (its first seconds) ${num(signUps.eventLoopMsPerSignUpCold, 2)} ms`)
  }
  if (report.storm !== undefined) out.push('', ...stormText('login', report.storm, 200))
  if (report.signUpStorm !== undefined) out.push('', ...stormText('sign-up', report.signUpStorm, 201))
  if (report.memory !== undefined) {
    const { memory } = report
    out.push('', '(e) server RSS', table([
      ['when', 'RSS'],
      ['server started on the seeded database', mib(memory.afterSeed)],
      ...memory.rounds.map((rss, i) => [`after round ${i + 1} of (a)`, mib(rss)]),
      ['after the run', mib(memory.afterRun)]
    ]), `growth from the first to the last round: ${mib(memory.growth)}`)
  }
  if (report.cleanup !== undefined) out.push('', ...cleanupText(report.cleanup))
  if (report.cache !== undefined) {
    const { cache } = report
    out.push('', `(g) token cache across two instances: ${cache.tokens} tokens, each cached by the second, revoked on the first`,
      `ms from the revocation's answer to the second's first 401: p50 ${num(cache.p50Ms, 2)}, p99 ${num(cache.invalidationP99Ms, 2)}, ` +
        `max ${num(cache.maxMs, 2)}; polls per revocation (median) ${num(cache.pollsMedian)}; not refused within ${cache.giveUpMs} ms: ${cache.failures}`)
  }
  return out.join('\n')
}

function stormText (what: 'login' | 'sign-up', storm: StormSection, okStatus: number): string[] {
  return [`(c) GET /me latency, idle vs during a ${what} storm offered at ${num(storm.offeredRate)} req/s (probe after ${storm.rampSeconds} s)`, table([
    ['GET /me', 'p50 ms', 'p99 ms', 'max ms'],
    ['idle', ...latencyCells(storm.idle)],
    [`during the ${what} storm`, ...latencyCells(storm.during)]
  ]), `p99 during/idle: ${num(storm.p99Ratio, 2)}`,
  `storm: ${storm.storm.responses} answers: ${storm.storm.ok} ${okStatus}, ${storm.storm.shed} 503` +
    (storm.storm.shedLatency === null ? '' : ` (p99 ${num(storm.storm.shedLatency.p99, 1)} ms)`) +
    `, ${storm.storm.other} other; ${storm.storm.timeouts} timeouts (> ${storm.timeoutSeconds} s), ${storm.storm.errors} errors`]
}

function cleanupText (cleanup: CleanupSection | { skipped: string }): string[] {
  if ('skipped' in cleanup) return [`(f) cleanup at scale: skipped (${cleanup.skipped})`]
  const count = (n: number): string => n.toLocaleString('en-US')
  return [
    `(f) cleanup at scale: ${count(cleanup.expiredTokens)} expired + ${count(cleanup.liveTokens)} live tokens, ` +
      `seeded in ${num(cleanup.seedSeconds, 1)} s; the library's deleteExpired in the server`,
    `${count(cleanup.rows)} records deleted in ${num(cleanup.seconds, 1)} s: ${count(Math.round(cleanup.rowsPerSecond))} rows/s; ` +
      (cleanup.finished
        ? 'finished'
        : `stopped at the bound of ${cleanup.maxSeconds} s, ${count(cleanup.expiredLeft)} expired records left ` +
          `(all ${count(cleanup.expiredTokens)} at this rate: ${num(cleanup.expiredTokens / cleanup.rowsPerSecond / 60, 1)} min)`),
    table([
      ['GET /me', 'p50 ms', 'p99 ms', 'max ms'],
      ['idle', ...latencyCells(cleanup.idle)],
      ['during the cleanup', ...latencyCells(cleanup.during)],
      ['(one batch of deletions)', ...latencyCells(cleanup.batches)]
    ]),
    `p99 during/idle: ${num(cleanup.p99Ratio, 2)}; non-200 probe answers: ${cleanup.unexpected}; ` +
      `live tokens answered 200 afterwards: ${count(cleanup.liveChecked)}`
  ]
}

/** The whole report as text. */
export function formatReport (report: Report): string {
  const { machine, settings } = report
  const out = [
    '# fastify-oauth2-server benchmark',
    `${machine.date}; Node ${machine.node} on ${machine.platform}, ${machine.cpus} × ${machine.cpuModel}, ${num(machine.memoryGiB)} GiB; ` +
      `load average at start ${machine.loadAverage.map((l) => num(l, 2)).join(' ')}`,
    `${settings.quick ? 'quick run' : 'full run'}: ${settings.rounds} rounds of ${settings.roundSeconds} s per route, ` +
      `${settings.connections} connections; token cache { max: ${settings.tokenCache.max}, ttl: ${settings.tokenCache.ttl} }`,
    '',
    databaseText('SQLite', report.sqlite),
    '',
    'skipped' in report.postgres ? `## PostgreSQL: skipped (${report.postgres.skipped})` : databaseText('PostgreSQL', report.postgres),
    '',
    '## Targets',
    table([
      ['target', 'value', 'limit', 'met'],
      ...report.targets.map((c) => [c.name, num(c.value, 3), `${c.kind === 'max' ? '≤' : '≥'} ${c.target}`, c.met ? 'yes' : 'NO'])
    ]),
    '',
    `${report.targets.filter((c) => c.met).length} of ${report.targets.length} targets met; the run took ${num(report.seconds)} s.`
  ]
  return out.join('\n') + '\n'
}
