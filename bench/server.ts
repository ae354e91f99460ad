/**
 * The benchmark's target process: the example app (examples/app.ts) on a KyselyStore, started by run.ts
 * with `fork()` and driven over IPC, so that its `process.cpuUsage()` and RSS are the server's alone.
 *
 * The database comes seeded (seed.ts). The app listens twice on 127.0.0.1, on one store: without the
 * token cache and with it. A second store (table prefix `small_`) holds the small table
 * of (d); its guard, like the main one's, is called in-process for (d). On PostgreSQL, (g) adds two more
 * instances of the app on stores of their own (`KyselyStore.open`), both with the cache. The cleanup at scale
 * (f) runs in a server of its own: the app alone on a store of its own file, and the library's cleanup.
 */
import { readFileSync } from 'node:fs'
import { hash, verify } from '@node-rs/argon2'
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { buildExampleApp, meSchema } from '../examples/app.js'
import { createClient, KyselyStore, openDatabase, type OAuth2ServerOptions, type OAuth2Store, type OpenedDatabase } from '../lib/index.js'
import { deleteExpired } from '../lib/cleanup.js'
import {
  ARGON2_ALGORITHM_ID, ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST, type Argon2Parameters
} from '../lib/crypto/passwords.js'
import { LowPriorityPool } from '../lib/crypto/low-priority-pool.js'
import { hashToken } from '../lib/crypto/tokens.js'
import { resolveOptions } from '../lib/options.js'
import { issueTokens, testHashing } from '../lib/testing/index.js'
import { seedDatabase, type SeedPlan } from './seed.js'
import { sampleIndexes, seededRandom, summarizeLatencies } from './stats.js'
import { benchToken } from './tokens.js'

/** A request from run.ts: a command name, its arguments and an id the reply carries back. */
export interface Command {
  id: number
  command: string
  args: Record<string, unknown>
}

/** The reply to a command. */
export type Reply = { id: number, ok: true, result: unknown } | { id: number, ok: false, error: string }

export const BENCH_USERNAME = 'bench'
export const BENCH_PASSWORD = 'bench-password-123'
/** The user of the test-hash app's logins: its hash made with `testHashing`, so that verifying it costs next to nothing. */
export const BENCH_TEST_HASH_USERNAME = 'bench-test-hash'
/** The redirect URI of (b)'s authorization code client: never visited, the code is read off the redirect. */
export const BENCH_REDIRECT_URI = 'http://127.0.0.1:5173/callback'

interface Target {
  prefix: string
  store: KyselyStore
  app: FastifyInstance
  clientId: string
  guard: onRequestAsyncHookHandler
}

let opened: OpenedDatabase | undefined
const targets = new Map<string, Target>()
const apps: FastifyInstance[] = []

function database (): OpenedDatabase {
  if (opened === undefined) throw new Error('no database: send "open" first')
  return opened
}

function target (name: unknown): Target {
  const found = targets.get(String(name))
  if (found === undefined) throw new Error(`no target "${String(name)}"`)
  return found
}

async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  return typeof address === 'object' && address !== null ? address.port : 0
}

/** Opens the seeded database, starts the apps on both stores and signs the login user up. */
async function open (args: { url: string, fastPath: boolean, tokenCache: { max: number, ttl: number }, pragmas: string[], plugin: Partial<OAuth2ServerOptions> }): Promise<unknown> {
  opened = await openDatabase(args.url)
  // --pragma: SQLite settings to try beside openDatabase()'s own.
  for (const pragma of args.pragmas) (opened.sqlite as unknown as { pragma: (source: string) => unknown } | undefined)?.pragma(pragma)
  const fast = args.fastPath ? { sqlite: opened.sqlite, pgPool: opened.pgPool } : {}
  // The cache is on by default where the store reports revocations (as these do): the routes and guards
  // measured without it turn it off.
  const uncached = { ...args.plugin, tokenCache: false as const }
  for (const [name, prefix] of [['main', 'oauth2_'], ['small', 'small_']] as const) {
    const store = new KyselyStore({ db: opened.db, ...fast, tablePrefix: prefix })
    await store.migrate()
    const { app, publicClientId } = await buildExampleApp(store, uncached, { logger: false })
    apps.push(app)
    await app.ready()
    targets.set(name, { prefix, store, app, clientId: publicClientId, guard: app.oauth2.authenticate() })
  }
  const main = target('main')
  const plainPort = await listen(main.app)
  const { app: cached } = await buildExampleApp(main.store, { ...args.plugin, tokenCache: args.tokenCache }, { logger: false })
  registerFloor(cached)
  apps.push(cached)
  const cachedPort = await listen(cached)
  // (a)'s two hooks for (a'): the cached app's guard and the floor's, called in this process.
  targets.set('cached', { ...main, app: cached, guard: cached.oauth2.authenticate() })
  targets.set('floor', { ...main, app: cached, guard: floorHook })
  // The logins of (b) once more with a hash that costs next to nothing: what the event loop does for a
  // login with no argon2 running beside it.
  const { app: testHash } = await buildExampleApp(main.store, { ...uncached, testHashing }, { logger: false })
  apps.push(testHash)
  const testHashPort = await listen(testHash)
  const testHashSignUp = await testHash.inject({ method: 'POST', url: '/sign_up/', payload: { username: BENCH_TEST_HASH_USERNAME, password: BENCH_PASSWORD } })
  if (testHashSignUp.statusCode !== 201) throw new Error(`sign-up failed: ${testHashSignUp.statusCode} ${testHashSignUp.body}`)

  const signUp = await main.app.inject({ method: 'POST', url: '/sign_up/', payload: { username: BENCH_USERNAME, password: BENCH_PASSWORD } })
  if (signUp.statusCode !== 201) throw new Error(`sign-up failed: ${signUp.statusCode} ${signUp.body}`)
  const { client: codeClient } = await createClient(main.store, {
    name: 'bench code client', type: 'public', grants: ['authorization_code'], redirectUris: [BENCH_REDIRECT_URI]
  })
  const { hashing } = resolveOptions({ ...args.plugin, store: main.store })
  return {
    codeClientId: codeClient.id,
    dialect: opened.dialect,
    ports: { plain: plainPort, cached: cachedPort, testHash: testHashPort },
    clientId: main.clientId,
    username: BENCH_USERNAME,
    password: BENCH_PASSWORD,
    // The plugin's own value (its default unless --hashing-concurrency), for the ceiling of (b).
    hashingConcurrency: hashing.concurrency
  }
}

const FLOOR_USER = Object.freeze({ id: 'floor', username: BENCH_USERNAME })

/**
 * `GET /me-floor`, the floor of (a): what any hash-keyed bearer check costs before it looks anything up.
 * Its hook reads the Authorization header and hashes the token as the guard does, then sets a fixed user;
 * the handler answers like `GET /me`. No store, no cache, no validation: the guard can only cost more.
 */
function registerFloor (app: FastifyInstance): void {
  app.get('/me-floor', { schema: { response: { 200: meSchema.response[200] } }, onRequest: floorHook },
    async (request) => ({ id: request.user?.id, username: request.user?.username }))
}

/** The hook of `GET /me-floor`. */
async function floorHook (request: FastifyRequest): Promise<void> {
  const header = request.headers.authorization
  if (header === undefined) throw new Error('no Authorization header')
  hashToken(header.slice(7))
  request.user = { ...FLOOR_USER }
}

/** Linux's USER_HZ: the unit of the CPU times in /proc, 100 on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100

/**
 * CPU milliseconds (user + system) of the event loop's own thread so far, from Linux's per-thread
 * accounting (`/proc/self/task/<pid>/stat`, clock ticks of 10 ms): what the process's `cpuUsage()` cannot
 * tell apart from the hashing threads. `null` elsewhere.
 */
function eventLoopThreadCpuMs (): number | null {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS_PER_SECOND
  } catch {
    return null
  }
}

/** CPU time, RSS, the event loop's busy milliseconds and its thread's CPU milliseconds so far. */
function usage (): unknown {
  const memory = process.memoryUsage()
  return { cpu: process.cpuUsage(), rss: memory.rss, heapUsed: memory.heapUsed, eventLoopActive: performance.eventLoopUtilization().active, eventLoopCpu: eventLoopThreadCpuMs() }
}

/**
 * The RSS after full garbage collections (the server runs with `--expose-gc`): what the process
 * holds, not how much garbage the last load left uncollected, which follows the collector's timing and the
 * load's speed. Two collections, as one may leave objects with finalizers for the next.
 */
function memory (): { rss: number } {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('memory: start the server with --expose-gc')
  gc()
  gc()
  return { rss: process.memoryUsage.rss() }
}

/** A reply that only records that the guard refused. */
function refusingReply (): { reply: FastifyReply, refused: () => boolean } {
  let refused = false
  const reply = {
    code: () => reply,
    header: () => reply,
    headers: () => reply,
    type: () => reply,
    send: () => {
      refused = true
      return reply
    }
  }
  return { reply: reply as unknown as FastifyReply, refused: () => refused }
}

/**
 * (d) and (a'): calls a target's guard (or the floor's hook), one check at a time, for `durationMs`,
 * cycling through `draws` tokens drawn at random from its `count` seeded ones; returns checks done, wall and
 * CPU time. Bounded in time.
 */
async function guardLoop (args: { target: string, count: number, draws: number, durationMs: number, seed: number }): Promise<unknown> {
  const { app, guard } = target(args.target)
  const headers = sampleIndexes(args.draws, args.count, seededRandom(args.seed)).map((i) => `Bearer ${benchToken(i)}`)
  const { reply, refused } = refusingReply()
  let checks = 0
  let failures = 0
  const cpuBefore = process.cpuUsage()
  const started = process.hrtime.bigint()
  const deadline = started + BigInt(Math.round(args.durationMs * 1e6))
  while (process.hrtime.bigint() < deadline) {
    for (let k = 0; k < 64; k++) {
      const request = { headers: { authorization: headers[checks % headers.length] }, oauth: null, user: null } as unknown as FastifyRequest
      await guard.call(app, request, reply)
      if (request.user === null) failures++
      checks++
    }
  }
  const wallNs = Number(process.hrtime.bigint() - started)
  const cpu = process.cpuUsage(cpuBefore)
  return { checks, failures, refused: refused(), wallNs, cpuMicros: cpu.user + cpu.system }
}

/** The plugin's argon2id parameters (lib/crypto/passwords.ts), for the ceiling of the sign-ups. */
const PLUGIN_ARGON2: Argon2Parameters = {
  algorithm: ARGON2_ALGORITHM_ID,
  memoryCost: ARGON2_MEMORY_KIB,
  timeCost: ARGON2_TIME_COST,
  parallelism: ARGON2_PARALLELISM
}

/** The parameters part of a PHC string: `$argon2id$v=19$m=…,t=…,p=…`. */
const phcParameters = (phc: string): string => phc.split('$').slice(0, 4).join('$')

/**
 * (b)'s ceilings: `concurrency` loops of raw argon2 operations for `durationMs`, with the plugin's
 * parameters: `verify`, of the login user's hash (the login's hash); `hash`, of a new password each time
 * (the sign-up's), checked to carry the same parameters as the login user's stored hash.
 */
async function argon2Loop (args: { op: 'verify' | 'hash', concurrency: number, durationMs: number }): Promise<unknown> {
  const user = await target('main').store.findUserByUsernameKey(BENCH_USERNAME)
  if (user === null) throw new Error('the login user is missing')
  return await argon2Loops(args.concurrency, args.durationMs, async (done) => {
    if (args.op === 'verify') {
      if (!await verify(user.passwordHash, BENCH_PASSWORD)) throw new Error('the ceiling verified a wrong hash')
      return
    }
    const made = await hash(`${BENCH_PASSWORD}-${done}`, PLUGIN_ARGON2)
    if (phcParameters(made) !== phcParameters(user.passwordHash)) {
      throw new Error(`the ceiling hashed with ${phcParameters(made)}, the plugin with ${phcParameters(user.passwordHash)}`)
    }
  })
}

/** `concurrency` loops of `operation` until `durationMs` has passed: how many ran, in how many ms. */
async function argon2Loops (concurrency: number, durationMs: number, operation: (done: number) => Promise<void>): Promise<{ done: number, ms: number }> {
  const started = performance.now()
  const deadline = started + durationMs
  let done = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      await operation(done)
      done++
    }
  }))
  return { done, ms: performance.now() - started }
}

/**
 * (b)'s test-hash logins beside argon2: run in a server process of its own (no database), `threads` loops of
 * argon2id verifications with the plugin's parameters on the plugin's own kind of threads (the lowest OS
 * priority), for `durationMs`. The cores are then as busy with argon2 as during (b)'s real logins, with
 * nothing of it on the measured server's event loop.
 */
async function argon2Beside (args: { threads: number, durationMs: number }): Promise<unknown> {
  const pool = new LowPriorityPool(args.threads)
  try {
    const stored = await hash(BENCH_PASSWORD, PLUGIN_ARGON2)
    return await argon2Loops(args.threads, args.durationMs, async () => {
      if (!await pool.verify(stored, BENCH_PASSWORD)) throw new Error('argon2Beside verified a wrong hash')
    })
  } finally {
    await pool.close()
  }
}

/** (g)'s two instances of the app, each on a store of its own (its own pool and LISTEN connection). */
const pair: Array<{ app: FastifyInstance, store: KyselyStore, clientId: string, counted: { lookups: number } }> = []

/**
 * (g): two instances of the example app on one PostgreSQL database, each on `KyselyStore.open(url)` with
 * the token cache; each counts its store's bearer lookups (the second's show that its cache answers).
 */
async function openPair (args: { url: string, tokenCache: { max: number, ttl: number }, plugin: Partial<OAuth2ServerOptions> }): Promise<unknown> {
  const ports: number[] = []
  for (let i = 0; i < 2; i++) {
    const store = await KyselyStore.open(args.url)
    const counted = { lookups: 0 }
    const find = store.findByAccessTokenHash.bind(store)
    store.findByAccessTokenHash = async (accessTokenHash) => {
      counted.lookups++
      return await find(accessTokenHash)
    }
    const { app, publicClientId } = await buildExampleApp(store, { ...args.plugin, tokenCache: args.tokenCache }, { logger: false })
    pair.push({ app, store, clientId: publicClientId, counted })
    ports.push(await listen(app))
  }
  return { ports, clientId: pair[0]?.clientId }
}

/** (g): `count` fresh tokens of one user, minted by the testing kit on the first instance for its public client. */
async function issue (args: { count: number, username: string }): Promise<string[]> {
  const [a] = pair
  if (a === undefined) throw new Error('no pair: send "openPair" first')
  const tokens: string[] = []
  for (let i = 0; i < args.count; i++) tokens.push((await issueTokens(a.app, { username: args.username, clientId: a.clientId })).accessToken)
  return tokens
}

/** (g): the bearer lookups of the second instance's store so far. */
function pairLookups (): number {
  return pair[1]?.counted.lookups ?? 0
}

/**
 * Seeds a SQLite file (seed.ts) and returns the seconds each plan took: from a child that serves nothing
 * else, as the seeding holds its process's event loop for as long as it runs.
 */
async function seed (args: { url: string, plans: SeedPlan[] }): Promise<number[]> {
  return await seedDatabase(args.url, args.plans)
}

/** (f)'s store: the example app alone on `KyselyStore.open(url)`, without the token cache. */
let single: KyselyStore | undefined

async function openSingle (args: { url: string, plugin: Partial<OAuth2ServerOptions> }): Promise<unknown> {
  single = await KyselyStore.open(args.url)
  const { app } = await buildExampleApp(single, { ...args.plugin, tokenCache: false }, { logger: false })
  apps.push(app)
  return { port: await listen(app) }
}

function singleStore (): KyselyStore {
  if (single === undefined) throw new Error('no store: send "openSingle" first')
  return single
}

/** (f)'s cleanup so far: token rows deleted and the milliseconds of each batch (the event loop held by it). */
const cleanupProgress = { rows: 0, batchMs: [] as number[] }

/** Thrown into the library's cleanup loop at its next batch once the bench's deadline has passed. */
class CleanupStopped extends Error {}

/**
 * (f): the library's cleanup (`deleteExpired` with its default batch size, as the plugin's periodic
 * `cleanup` and `tokens clear` run it) on the store the app serves, until it finishes or `maxSeconds`
 * pass. The store is seen through a proxy that counts and times each batch of tokens, and that stops the
 * loop at the first batch past the deadline; every other call goes to the store itself.
 */
async function cleanup (args: { maxSeconds: number }): Promise<unknown> {
  const store = singleStore()
  const deadline = performance.now() + args.maxSeconds * 1000
  const counted: OAuth2Store = new Proxy(store, {
    get (target, property) {
      if (property === 'deleteExpiredTokens') {
        return async (now: number, limit: number): Promise<number> => {
          if (performance.now() > deadline) throw new CleanupStopped()
          const begun = performance.now()
          const deleted = await target.deleteExpiredTokens(now, limit)
          cleanupProgress.batchMs.push(performance.now() - begun)
          cleanupProgress.rows += deleted
          return deleted
        }
      }
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  const started = performance.now()
  let finished = true
  try {
    await deleteExpired(counted, Date.now())
  } catch (err) {
    if (!(err instanceof CleanupStopped)) throw err
    finished = false
  }
  return {
    finished,
    rows: cleanupProgress.rows,
    seconds: (performance.now() - started) / 1000,
    batches: summarizeLatencies(cleanupProgress.batchMs)
  }
}

/** (f): the token rows deleted so far by a cleanup underway. */
function cleanupRows (): number {
  return cleanupProgress.rows
}

/** (f): token records whose tokens have both expired before `now`, and the others (through `expires_at`'s index). */
async function countTokens (args: { now: number }): Promise<unknown> {
  const { db } = singleStore()
  const count = async (expired: boolean): Promise<number> => Number((await db.selectFrom('oauth2_tokens')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('expires_at', expired ? '<' : '>=', args.now)
    .executeTakeFirstOrThrow()).n)
  return { expired: await count(true), live: await count(false) }
}

async function close (): Promise<unknown> {
  for (const app of apps) await app.close()
  for (const { app, store } of pair) {
    await app.close()
    await store.close()
  }
  await single?.close()
  await opened?.db.destroy()
  setImmediate(() => process.exit(0))
  return null
}

const COMMANDS: Record<string, (args: any) => Promise<unknown> | unknown> = {
  open,
  usage,
  memory,
  argon2Beside,
  guard: guardLoop,
  argon2: argon2Loop,
  openPair,
  issue,
  pairLookups,
  openSingle,
  cleanup,
  cleanupRows,
  countTokens,
  seed,
  close
}

process.on('message', (message: Command) => {
  const handler = COMMANDS[message.command]
  Promise.resolve()
    .then(async () => {
      if (handler === undefined) throw new Error(`unknown command "${message.command}"`)
      return await handler(message.args)
    })
    .then((result) => process.send?.({ id: message.id, ok: true, result } satisfies Reply))
    .catch((err: Error) => process.send?.({ id: message.id, ok: false, error: err.stack ?? err.message } satisfies Reply))
})
// Without its parent there is nobody to report to: end with it.
process.on('disconnect', () => process.exit(0))
process.send?.({ id: 0, ok: true, result: 'ready' } satisfies Reply)
