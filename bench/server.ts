/**
 * The benchmark's target process: the example app (examples/app.ts) on a KyselyStore, started by run.ts
 * with `fork()` and driven over IPC, so that its `process.cpuUsage()` and RSS are the server's alone.
 *
 * The database comes seeded (seed.ts). The app listens twice on 127.0.0.1, on one store: without the
 * token cache and with it. A second store (table prefix `small_`) holds the small table
 * of (d); its guard, like the main one's, is called in-process for (d).
 */
import { verify } from '@node-rs/argon2'
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { buildExampleApp, meSchema } from '../examples/app.js'
import { createClient, KyselyStore, openDatabase, type OAuth2ServerOptions, type OpenedDatabase } from '../lib/index.js'
import { hashToken } from '../lib/crypto/tokens.js'
import { resolveOptions } from '../lib/options.js'
import { sampleIndexes, seededRandom } from './stats.js'
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
    if (name === 'main') registerFloor(app)
    await app.ready()
    targets.set(name, { prefix, store, app, clientId: publicClientId, guard: app.oauth2.authenticate() })
  }
  const main = target('main')
  const plainPort = await listen(main.app)
  const { app: cached } = await buildExampleApp(main.store, { ...args.plugin, tokenCache: args.tokenCache }, { logger: false })
  apps.push(cached)
  const cachedPort = await listen(cached)

  const signUp = await main.app.inject({ method: 'POST', url: '/sign_up/', payload: { username: BENCH_USERNAME, password: BENCH_PASSWORD } })
  if (signUp.statusCode !== 201) throw new Error(`sign-up failed: ${signUp.statusCode} ${signUp.body}`)
  const { client: codeClient } = await createClient(main.store, {
    name: 'bench code client', type: 'public', grants: ['authorization_code'], redirectUris: [BENCH_REDIRECT_URI]
  })
  return {
    codeClientId: codeClient.id,
    dialect: opened.dialect,
    ports: { plain: plainPort, cached: cachedPort },
    clientId: main.clientId,
    username: BENCH_USERNAME,
    password: BENCH_PASSWORD,
    // The plugin's own value (its default unless --hashing-concurrency), for the ceiling of (b).
    hashingConcurrency: resolveOptions({ ...args.plugin, store: main.store }).hashing.concurrency
  }
}

const FLOOR_USER = Object.freeze({ id: 'floor', username: BENCH_USERNAME })

/**
 * `GET /me-floor`, the floor of (a): what any hash-keyed bearer check costs before it looks anything up.
 * Its hook reads the Authorization header and hashes the token as the guard does, then sets a fixed user;
 * the handler answers like `GET /me`. No store, no cache, no validation: the guard can only cost more.
 */
function registerFloor (app: FastifyInstance): void {
  app.get('/me-floor', {
    schema: { response: { 200: meSchema.response[200] } },
    onRequest: async (request) => {
      const header = request.headers.authorization
      if (header === undefined) throw new Error('no Authorization header')
      hashToken(header.slice(7))
      request.user = { ...FLOOR_USER }
    }
  }, async (request) => ({ id: request.user?.id, username: request.user?.username }))
}

/** CPU time, RSS, and the event loop's busy milliseconds so far. */
function usage (): unknown {
  const memory = process.memoryUsage()
  return { cpu: process.cpuUsage(), rss: memory.rss, heapUsed: memory.heapUsed, eventLoopActive: performance.eventLoopUtilization().active }
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
 * (d): calls a target's guard, one check at a time, for `durationMs`, cycling through `draws` tokens drawn
 * at random from its `count` seeded ones; returns checks done, wall and CPU time. Bounded in time.
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
      const request = { headers: { authorization: headers[checks % headers.length] }, oauth: null } as unknown as FastifyRequest
      await guard.call(app, request, reply)
      if (request.oauth === null) failures++
      checks++
    }
  }
  const wallNs = Number(process.hrtime.bigint() - started)
  const cpu = process.cpuUsage(cpuBefore)
  return { checks, failures, refused: refused(), wallNs, cpuMicros: cpu.user + cpu.system }
}

/** (b)'s ceiling: `concurrency` loops of argon2 verifications of the login user's hash, for `durationMs`. */
async function argon2Loop (args: { concurrency: number, durationMs: number }): Promise<unknown> {
  const user = await target('main').store.findUserByUsernameKey(BENCH_USERNAME)
  if (user === null) throw new Error('the login user is missing')
  const deadline = performance.now() + args.durationMs
  let verified = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: args.concurrency }, async () => {
    while (performance.now() < deadline) {
      if (!await verify(user.passwordHash, BENCH_PASSWORD)) throw new Error('the ceiling verified a wrong hash')
      verified++
    }
  }))
  return { verified, ms: performance.now() - started }
}

async function close (): Promise<unknown> {
  for (const app of apps) await app.close()
  await opened?.db.destroy()
  setImmediate(() => process.exit(0))
  return null
}

const COMMANDS: Record<string, (args: any) => Promise<unknown> | unknown> = {
  open,
  usage,
  guard: guardLoop,
  argon2: argon2Loop,
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
