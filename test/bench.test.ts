/**
 * The benchmark's pure parts: its statistics, its targets and its report. Nothing here is timed: the
 * benchmark itself (`npm run bench`) measures; this file proves its arithmetic and its output.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { numberedBodies } from '../bench/bodies.js'
import { runPaced } from '../bench/paced.js'
import {
  allTargets, databaseTargets, formatReport, invalidationSummary, num, routeRatios, RSS_NOISE, RUN_SECONDS_TARGET, table,
  type CleanupSection, type DatabaseReport, type Report, type RouteRound, type StormSection
} from '../bench/report.js'
import {
  checkTarget, cpuMicrosPerRequest, median, percentile, ratio, ratios, sampleIndexes, seededRandom, summarizeLatencies
} from '../bench/stats.js'

t.test('median, percentile and ratios', async (t) => {
  t.ok(Number.isNaN(median([])))
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.equal(median([5]), 5)
  const values = [5, 1, 4, 2, 3]
  median(values)
  t.same(values, [5, 1, 4, 2, 3], 'the input is left unsorted')

  t.ok(Number.isNaN(percentile([], 50)))
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i)
  t.equal(percentile(hundred, 50), 50)
  t.equal(percentile(hundred, 99), 99)
  t.equal(percentile(hundred, 100), 100)
  t.equal(percentile([7, 9], 1), 7, 'nearest rank: at least the first value')
  t.equal(percentile([1, 2, 3], 99.9), 3)

  t.equal(ratio(3, 2), 1.5)
  t.ok(Number.isNaN(ratio(1, 0)))
  t.ok(Number.isNaN(ratio(Number.NaN, 1)))
  t.ok(Number.isNaN(ratio(1, Number.POSITIVE_INFINITY)))
  t.same(ratios([2, 9], [1, 3]), [2, 3])
  t.throws(() => ratios([1], [1, 2]), RangeError)
})

t.test('latency summaries and CPU per request', async (t) => {
  t.same(summarizeLatencies([0.5, 2, 1, 10]), { count: 4, p50: 1, p99: 10, max: 10 })
  const empty = summarizeLatencies([])
  t.equal(empty.count, 0)
  t.ok(Number.isNaN(empty.p50) && Number.isNaN(empty.p99) && Number.isNaN(empty.max))
  t.equal(cpuMicrosPerRequest({ user: 1000, system: 500 }, { user: 3000, system: 1500 }, 100), 30)
  t.ok(Number.isNaN(cpuMicrosPerRequest({ user: 0, system: 0 }, { user: 1, system: 1 }, 0)), 'no requests: no figure')
})

t.test('targets: at most, at least, and no number meets nothing', async (t) => {
  t.match(checkTarget('x', 1.25, 'max', 1.25), { name: 'x', value: 1.25, target: 1.25, kind: 'max', met: true })
  t.equal(checkTarget('x', 1.26, 'max', 1.25).met, false)
  t.equal(checkTarget('y', 0.85, 'min', 0.85).met, true)
  t.equal(checkTarget('y', 0.84, 'min', 0.85).met, false)
  t.equal(checkTarget('z', Number.NaN, 'max', 1).met, false)
  t.equal(checkTarget('z', Number.NaN, 'min', 1).met, false)
})

t.test('the seeded random draws are repeatable and in range', async (t) => {
  const a = sampleIndexes(1000, 50, seededRandom(42))
  t.same(a, sampleIndexes(1000, 50, seededRandom(42)))
  t.notSame(a, sampleIndexes(1000, 50, seededRandom(43)))
  t.ok(a.every((i) => Number.isInteger(i) && i >= 0 && i < 50))
  t.ok(new Set(a).size > 40, 'spread over the range')
})

function round (rate: number, cpuMicros: number, unexpected = 0): RouteRound {
  return { rate, p50: 0.5, p99: 2, cpuMicros, unexpected }
}

function database (dialect: 'sqlite' | 'postgres', full: boolean): DatabaseReport {
  const rounds = [
    { open: round(1000, 20), protected: round(900, 24), cached: round(980, 21), floor: round(990, 21) },
    { open: round(1100, 20), protected: round(800, 30, 2), cached: round(1000, 22), floor: round(1000, 20.4) },
    { open: round(1000, 10), protected: round(900, 12), cached: round(990, 10), floor: round(990, 10.4) }
  ]
  const report: DatabaseReport = {
    dialect,
    seed: { tokens: 1_000_000, seconds: 12.34 },
    routes: { rounds, ...routeRatios(rounds) },
    hooks: { blockMs: 150, cachedNs: [1500, 1600, 1550], floorNs: [750, 800, 760], ratio: 2.04 },
    tableSize: { smallTokens: 10_000, largeTokens: 1_000_000, activeTokens: 1000, small: [10, 11], large: [11, 12], ratio: 1.09, smallCpu: 9.5, largeCpu: 10.5, uniform: { small: 12, large: 18 } }
  }
  if (full) {
    report.logins = {
      concurrency: 2, ceiling: [100, 110], logins: [90, 99], ratio: 0.9, allCores: 2, ceilingAllCores: [100, 110], ratioAllCores: 0.9,
      eventLoopMsPerLogin: 0.456, eventLoopBusyMsPerLogin: 0.9, eventLoopMsPerLoginCold: 0.71, eventLoopMsPerLoginTestHashBurst: 0.123, eventLoopMsPerLoginTestHash: 0.234, eventLoopMsPerLoginTestHashBeside: 0.346, cpuMsPerVerify: 15.2, cpuMsPerLogin: 16.04, unexpected: 0, codeFlows: { perSecond: 470.25, failures: 0 }
    }
    report.signUps = {
      allCores: 2, ceilingAllCores: [120, 100], signUps: [96, 90], ratioAllCores: 0.85,
      eventLoopMsPerSignUp: 0.8, eventLoopBusyMsPerSignUp: 1.25, eventLoopMsPerSignUpCold: 1.1, cpuMsPerHash: 14.5, cpuMsPerSignUp: 15.75, unexpected: 1
    }
    report.storm = stormSection(2.2, 0)
    report.signUpStorm = { ...stormSection(3.5, 2), offeredRate: 186 }
    report.memory = { afterSeed: 100 * 2 ** 20, rounds: [120 * 2 ** 20, 121 * 2 ** 20], afterRun: 122 * 2 ** 20, growth: 2 ** 20 }
    report.cleanup = cleanupSection()
  }
  if (dialect === 'postgres') report.cache = invalidationSummary([3, 1.5, 2], [2, 1, 1], 0, 2000)
  return report
}

function stormSection (p99Ratio: number, timeouts: number): StormSection {
  return {
    offeredRate: 190,
    rampSeconds: 4,
    timeoutSeconds: 10,
    idle: { count: 800, p50: 0.6, p99: 1.5, max: 3 },
    during: { count: 800, p50: 0.9, p99: 1.5 * p99Ratio, max: 9 },
    p99Ratio,
    storm: { responses: 1500, ok: 700, shed: 800, other: 0, timeouts, errors: 0, shedLatency: { count: 800, p50: 0.4, p99: 1.2, max: 2 } }
  }
}

function cleanupSection (): CleanupSection {
  return {
    expiredTokens: 10_000_000,
    liveTokens: 1000,
    seedSeconds: 201.25,
    rows: 10_000_000,
    seconds: 400,
    rowsPerSecond: 25_000,
    finished: true,
    maxSeconds: 600,
    expiredLeft: 0,
    batches: { count: 10_000, p50: 20, p99: 45, max: 60 },
    idle: { count: 600, p50: 0.5, p99: 2, max: 4 },
    during: { count: 80_000, p50: 0.7, p99: 5, max: 70 },
    p99Ratio: 2.5,
    unexpected: 0,
    liveChecked: 1000
  }
}

t.test('routeRatios: medians of the per-round ratios', async (t) => {
  const { routes } = database('sqlite', false)
  t.equal(routes.cpuRatio, 1.2, 'median of 1.2, 1.5, 1.2')
  t.equal(routes.cpuRatioCached, 1.05, 'median of 1.05, 1.1, 1')
  t.equal(routes.rateRatio, 0.9, 'median of 0.9, 0.727…, 0.9')
  t.equal(routes.rateRatioCached, 0.98)
  t.equal(routes.cpuRatioFloor, 1.04, 'median of 1.05, 1.02, 1.04')
  const cachedOverFloor = routeRatios([
    { open: round(1000, 20), protected: round(900, 30), cached: round(950, 22), floor: round(990, 20) },
    { open: round(1000, 20), protected: round(900, 30), cached: round(950, 25), floor: round(990, 20) },
    { open: round(1000, 20), protected: round(900, 30), cached: round(950, 21), floor: round(990, 20) }
  ]).cpuRatioCachedFloor
  t.equal(cachedOverFloor, 1.1, 'cached/floor: median of 1.1, 1.25, 1.05')
})

t.test('the targets of one database, and of a run', async (t) => {
  const short = databaseTargets('PostgreSQL', database('postgres', false))
  t.same(short.map((c) => [c.name, c.value, c.target, c.met]), [
    ['PostgreSQL (a) protected/open CPU per request, cache', 1.05, 1.5, true],
    ['PostgreSQL (d) check cost, large/small table', 1.09, 1.25, true],
    ['PostgreSQL (g) cache invalidation p99 ms', 3, 100, true],
    ['PostgreSQL (g) revocations not refused within 2000 ms', 0, 0, true]
  ])
  const full = databaseTargets('SQLite', database('sqlite', true))
  t.same(full.map((c) => [c.name, c.value, c.kind, c.target, c.met]), [
    ['SQLite (a) protected/open CPU per request, no cache', 1.2, 'max', 1.5, true],
    ['SQLite (a) cached/floor CPU per request', 1, 'max', 1.1, true],
    ['SQLite (d) check cost, large/small table', 1.09, 'max', 1.25, true],
    ['SQLite (b) logins/ceiling, every core', 0.9, 'min', 0.85, true],
    ['SQLite (b) event loop ms per login', 0.456, 'max', 1, true],
    ['SQLite (b) sign-ups/ceiling, every core', 0.85, 'min', 0.85, true],
    ['SQLite (c) protected p99 login storm/idle', 2.2, 'max', 3, true],
    ['SQLite (c) login storm timeouts', 0, 'max', 0, true],
    ['SQLite (c) protected p99 sign-up storm/idle', 3.5, 'max', 3, false],
    ['SQLite (c) sign-up storm timeouts', 2, 'max', 0, false],
    ['SQLite (e) RSS growth across rounds (fraction)', 1 / 120, 'max', RSS_NOISE, true],
    ['SQLite (f) protected p99 cleanup/idle', 2.5, 'max', 3, true]
  ])
  t.ok(1 / 120 <= RSS_NOISE)

  const skipped = databaseTargets('SQLite', { ...database('sqlite', true), cleanup: { skipped: '--no-cleanup' } })
  t.notOk(skipped.some((c) => c.name.includes('(f)')), 'a skipped cleanup has no targets')
  const stopped = { ...cleanupSection(), finished: false, rows: 4_000_000, expiredLeft: 6_000_000, p99Ratio: 40 }
  t.same(databaseTargets('SQLite', { ...database('sqlite', true), cleanup: stopped }).slice(-1).map((c) => [c.value, c.met]), [[40, false]],
    'a cleanup stopped at the bound is judged by its latency; its rate is reported')

  const run = allTargets({ sqlite: database('sqlite', true), postgres: { skipped: 'none here' }, seconds: 479.5 })
  t.equal(run.length, 13)
  t.match(run.at(-1), { name: 'whole run, seconds', value: 479.5, kind: 'max', target: RUN_SECONDS_TARGET, met: true })
  t.equal(RUN_SECONDS_TARGET, 480, 'eight minutes')
  t.equal(allTargets({ sqlite: database('sqlite', true), postgres: database('postgres', false), seconds: 481 }).at(-1)?.met, false)
  t.equal(allTargets({ sqlite: database('sqlite', true), postgres: database('postgres', false), seconds: 400 }).length, 17)
})

t.test('the cache invalidation figures: percentiles over the refused revocations, misses apart', async (t) => {
  const samples = Array.from({ length: 200 }, (_, i) => (i + 1) / 10)
  t.same(invalidationSummary(samples, [1, 3, 2, 2], 1, 2000), {
    tokens: 201, p50Ms: 10, invalidationP99Ms: 19.8, maxMs: 20, failures: 1, giveUpMs: 2000, pollsMedian: 2
  })
  const none = invalidationSummary([], [], 3, 2000)
  t.equal(none.tokens, 3)
  t.ok(Number.isNaN(none.invalidationP99Ms) && Number.isNaN(none.maxMs), 'nothing refused: no figure')
  t.equal(checkTarget('p99', none.invalidationP99Ms, 'max', 100).met, false, 'and no target met')
})

t.test('numbered bodies: one marker, a number per body', async (t) => {
  const body = numberedBodies('{"username":"signup-r1-{n}","password":"x-{n}"}', '{n}')
  t.equal(body(0), '{"username":"signup-r1-0","password":"x-0"}')
  t.equal(body(12345), '{"username":"signup-r1-12345","password":"x-12345"}')
  t.equal(new Set(Array.from({ length: 1000 }, (_, i) => body(i))).size, 1000, 'every body its own')
  t.equal(numberedBodies('{n}', '{n}')(7), '7')
  t.throws(() => numberedBodies('username=bench', '{n}'), RangeError)
  t.throws(() => numberedBodies('username=bench', ''), RangeError)
})

/** A local HTTP server answering with `answer`; its requests' arrival times and bodies, and the most in flight at once. */
async function recordingServer (t: Test, answer: (req: IncomingMessage, res: ServerResponse, n: number) => void) {
  const seen = { arrivals: [] as number[], bodies: [] as string[], inFlight: 0, maxInFlight: 0 }
  const server = createServer((req, res) => {
    seen.arrivals.push(performance.now())
    seen.maxInFlight = Math.max(seen.maxInFlight, ++seen.inFlight)
    res.once('close', () => seen.inFlight--)
    let body = ''
    req.on('data', (chunk) => { body += chunk })
    req.on('end', () => {
      seen.bodies.push(body)
      answer(req, res, seen.arrivals.length)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/o/token/`, seen }
}

t.test('the paced load: one request at a time, none before its turn, each answer counted by status', async (t) => {
  const { url, seen } = await recordingServer(t, (_req, res, n) => {
    res.statusCode = n % 5 === 0 ? 429 : 200
    res.end('{}')
  })
  const started = performance.now()
  const result = await runPaced({ url, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password', connections: 1, duration: 0.5, rate: 40 })
  // 0.5 s at 40/s: the requests due at 0, 25, ..., 475 ms; never sent before their turn, whatever the machine.
  t.ok(seen.arrivals.length <= 20 && seen.arrivals.length >= 1, `${seen.arrivals.length} requests`)
  seen.arrivals.forEach((at, k) => t.ok(at - started >= k * 25 - 1, `request ${k} not before its turn`))
  t.equal(seen.maxInFlight, 1, 'one at a time')
  t.same(new Set(seen.bodies), new Set(['grant_type=password']))
  t.equal(result.responses, seen.arrivals.length)
  t.equal(result.byStatus['429']?.count, Math.floor(seen.arrivals.length / 5))
  t.equal((result.byStatus['200']?.count ?? 0) + (result.byStatus['429']?.count ?? 0), result.responses)
  t.equal(result.errors, 0)
  t.equal(result.timeouts, 0)
})

t.test('the paced load: a cut connection is an error, an answer too late a timeout, and the load goes on', async (t) => {
  const { url } = await recordingServer(t, (req, res, n) => {
    if (n === 1) req.socket.destroy()
    else if (n === 2) setTimeout(() => res.end('late'), 400).unref()
    else res.end('{}')
  })
  const result = await runPaced({ url, connections: 1, duration: 0.4, rate: 10, timeout: 0.1 })
  t.equal(result.errors, 1, 'the cut connection')
  t.equal(result.timeouts, 1, 'the answer that came after the timeout')
  t.ok(result.responses >= 1, 'the requests after them answered')
  t.equal(result.byStatus['200']?.count, result.responses)
  await t.rejects(runPaced({ url, connections: 1, duration: 1, rate: 0 }), RangeError)
})

t.test('numbers and tables', async (t) => {
  t.equal(num(1.23456, 2), '1.23')
  t.equal(num(1234.5), '1235')
  t.equal(num(Number.NaN), '-')
  t.equal(table([['name', 'value'], ['a', '1.5'], ['long name', '-'], ['b', '12 MiB']]), [
    'name       value',
    '---------  ------',
    'a             1.5',
    'long name       -',
    'b          12 MiB'
  ].join('\n'))
  t.equal(table([['1', 'x']]), '1  x\n-  -', 'the first column and text stay left-aligned')
  t.equal(table([]), '\n', 'no rows: an empty header and rule')
})

t.test('the report: readable tables, every section, and the targets', async (t) => {
  const sqlite = database('sqlite', true)
  const base: Report = {
    machine: { date: '2026-11-27T22:00:00.000Z', node: 'v20.20.2', platform: 'linux 6.1', cpus: 2, cpuModel: 'AMD EPYC', memoryGiB: 24, loadAverage: [1, 0.5, 0.25] },
    settings: { quick: false, tokens: 1_000_000, smallTokens: 10_000, roundSeconds: 2, rounds: 3, connections: 10, tokenCache: { max: 10_000, ttl: 5 } },
    sqlite,
    postgres: { skipped: 'PostgreSQL binaries not found' },
    targets: [],
    seconds: 150.4
  }
  base.targets = allTargets(base)
  base.targets[0] = { ...base.targets[0] as Report['targets'][number], value: 2, met: false }
  const text = formatReport(base)
  for (const expected of [
    '# fastify-oauth2-server benchmark',
    '2026-11-27T22:00:00.000Z; Node v20.20.2 on linux 6.1, 2 × AMD EPYC, 24 GiB; load average at start 1.00 0.50 0.25',
    'full run: 3 rounds of 2 s per route, 10 connections; token cache { max: 10000, ttl: 5 }',
    '## SQLite: 1,000,000 live tokens seeded in 12.3 s',
    'GET /ping (open)            1000    0.50    2.00        20.0        0',
    'GET /me (no cache)           900    0.50    2.00        24.0        2',
    'GET /me-floor (hash only)    990    0.50    2.00        20.4        0',
    'floor/open CPU per request: 1.040 (a hook that only hashes the token, answering like GET /me)',
    'cached/floor CPU per request: 1.000 (what the cached check costs above the floor)',
    "(a') the two hooks alone, called in the server, 3 pairs of 150 ms blocks: cached check 1.55 µs, floor 0.76 µs of CPU per call; cached/floor 2.040; the difference is 0.79 µs, 3.8% of a cached request's CPU in (a)",
    'protected/open CPU per request         1.200  1.050',
    '(d) bearer check, one at a time, 1,000 active tokens drawn at random from the table',
    'large  1,000,000            11.50           10.50                       18.00',
    'large/small: 1.090 (each check a new token: 1.500)',
    '(b) password logins vs raw argon2 verify, concurrency 2 (every core)',
    'logins/ceiling: 0.900; at every core: 0.900; non-200 logins: 0',
    'server CPU per raw verify 15.20 ms, per login 16.04 ms; event loop per login 0.46 ms of its thread\'s CPU, busy 0.90 ms; cold (its first seconds) 0.71 ms; with a test hash at the same rate: back to back 0.12 ms, at an even pace 0.23 ms, the same beside argon2 on every core 0.35 ms',
    'authorization code flows with a session (authorize → code → token, PKCE): 470.3/s, 5.0× the password grant\'s logins/s; failed flows: 0',
    '(b) sign-ups (a new username each) vs raw argon2 hash, every core (2)',
    '1               120.0        96.0',
    'sign-ups/ceiling: 0.850; non-201 sign-ups: 1',
    'server CPU per raw hash 14.50 ms, per sign-up 15.75 ms; event loop per sign-up 0.80 ms of its thread\'s CPU, busy 1.25 ms; cold (its first seconds) 1.10 ms',
    '(c) GET /me latency, idle vs during a login storm offered at 190 req/s (probe after 4 s)',
    'during the login storm    0.90    3.30    9.00',
    'storm: 1500 answers: 700 200, 800 503 (p99 1.2 ms), 0 other; 0 timeouts (> 10 s), 0 errors',
    '(c) GET /me latency, idle vs during a sign-up storm offered at 186 req/s (probe after 4 s)',
    'during the sign-up storm    0.90    5.25    9.00',
    'p99 during/idle: 3.50',
    'storm: 1500 answers: 700 201, 800 503 (p99 1.2 ms), 0 other; 2 timeouts (> 10 s), 0 errors',
    'server started on the seeded database  100.0 MiB',
    'after round 2 of (a)                   121.0 MiB',
    'growth from the first to the last round: 1.0 MiB',
    '(f) cleanup at scale: 10,000,000 expired + 1,000 live tokens, seeded in 201.3 s; the library\'s deleteExpired in the server',
    '10,000,000 records deleted in 400.0 s: 25,000 rows/s; finished',
    'during the cleanup          0.70    5.00   70.00',
    '(one batch of deletions)   20.00   45.00   60.00',
    'p99 during/idle: 2.50; non-200 probe answers: 0; live tokens answered 200 afterwards: 1,000',
    '## PostgreSQL: skipped (PostgreSQL binaries not found)',
    'SQLite (a) protected/open CPU per request, no cache    2.000  ≤ 1.5   NO',
    'SQLite (b) logins/ceiling, every core                  0.900  ≥ 0.85  yes',
    'SQLite (c) protected p99 sign-up storm/idle            3.500  ≤ 3     NO',
    'whole run, seconds                                   150.400  ≤ 480   yes',
    '10 of 13 targets met; the run took 150 s.'
  ]) {
    t.ok(text.includes(expected), expected)
  }
  t.ok(text.endsWith('\n'))

  const quick: Report = { ...base, settings: { ...base.settings, quick: true }, postgres: database('postgres', false) }
  const stopped: CleanupSection = { ...cleanupSection(), rows: 2_500_000, seconds: 100, rowsPerSecond: 25_000, finished: false, maxSeconds: 100, expiredLeft: 7_500_000 }
  quick.sqlite = {
    ...sqlite,
    logins: { ...sqlite.logins as NonNullable<DatabaseReport['logins']>, concurrency: 1, ceilingAllCores: [180, 200], ratioAllCores: 0.5 },
    storm: { ...sqlite.storm as NonNullable<DatabaseReport['storm']>, storm: { ...sqlite.storm!.storm, shed: 0, shedLatency: null } },
    cleanup: stopped
  }
  const quickText = formatReport(quick)
  t.ok(quickText.includes('quick run: 3 rounds'))
  t.ok(quickText.includes('## PostgreSQL: 1,000,000 live tokens seeded in 12.3 s'))
  t.ok(quickText.includes('storm: 1500 answers: 700 200, 0 503, 0 other; 0 timeouts (> 10 s), 0 errors'), 'no 503s: no 503 latency')
  t.ok(quickText.includes('(b) password logins vs raw argon2 verify, concurrency 1, and at every core (2)'), 'two ceilings when the concurrency is not every core')
  t.ok(quickText.includes('round  ceiling verify/s  every core verify/s  logins/s'))
  t.ok(quickText.includes('1                 100.0                180.0      90.0'))
  t.ok(quickText.includes('logins/ceiling: 0.900; at every core: 0.500; non-200 logins: 0'))
  t.ok(quickText.includes('2,500,000 records deleted in 100.0 s: 25,000 rows/s; stopped at the bound of 100 s, 7,500,000 expired records left (all 10,000,000 at this rate: 6.7 min)'))
  t.ok(quickText.includes('(g) token cache across two instances: 3 tokens, each cached by the second, revoked on the first'))
  t.ok(quickText.includes("ms from the revocation's answer to the second's first 401: p50 2.00, p99 3.00, max 3.00; polls per revocation (median) 1; not refused within 2000 ms: 0"))
  t.notOk(quickText.split('## PostgreSQL')[1]?.includes('(b) password logins'), 'PostgreSQL runs (a), (d) and (g) only')
  t.notOk(quickText.split('## PostgreSQL')[0]?.includes('(g) token cache'), 'SQLite has no (g)')

  const skipped = formatReport({ ...base, sqlite: { ...sqlite, cleanup: { skipped: '--no-cleanup' } } })
  t.ok(skipped.includes('(f) cleanup at scale: skipped (--no-cleanup)'))
})
