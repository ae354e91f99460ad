/**
 * `npx tsx bench/testing-kit.ts [--users 100] [--requests 10] [--rounds 3] [--json]`: what the testing kit
 * saves a test suite. Each of `--users` users makes `--requests` authenticated requests to a guarded route
 * over `app.inject`, logged in three ways:
 *   route         `/sign_up/` then `/o/token/`, production hashing (argon2id m=19456 t=2 p=1): today's way;
 *   route-cheap   the same with the plugin's `testHashing` option;
 *   kit           `authenticateAs` (a token minted into the store, no password at all).
 * Each run is a child process of its own, so that its peak RSS is its own; rounds alternate the ways.
 * Reported: wall time from the ready app to the last answer, and the child's peak RSS (`maxRSS`).
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import oauth2, { createClient, MemoryStore, type OAuth2ServerOptions } from '../lib/index.js'
import { authenticateAs, testHashing } from '../lib/testing/index.js'

const WAYS = ['route', 'route-cheap', 'kit'] as const
type Way = typeof WAYS[number]

interface Run { way: Way, wallMs: number, peakRssMiB: number }

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** One run, in this (child) process. */
async function run (way: Way, users: number, requests: number): Promise<Run> {
  const store = new MemoryStore()
  const app = Fastify()
  // Sign-ups from one address would hit the throttle after 10: a test suite turns it off too.
  const options: OAuth2ServerOptions = way === 'route-cheap' ? { store, throttle: false, testHashing } : { store, throttle: false }
  await app.register(oauth2, options)
  app.get('/me', { onRequest: app.oauth2.authenticate({ scopes: ['read'] }) }, async (request) => request.user)
  await app.ready()
  const { client } = await createClient(store, { name: 'bench', type: 'public' })

  const started = performance.now()
  for (let i = 0; i < users; i++) {
    const username = `user${i}`
    let authorization: string
    if (way === 'kit') {
      authorization = (await authenticateAs(app, { username, scopes: ['read'] })).authorization
    } else {
      const password = 'djangsta-secret'
      const signUp = await app.inject({ method: 'POST', url: '/sign_up/', payload: { username, password } })
      if (signUp.statusCode !== 201) throw new Error(`sign-up: ${signUp.statusCode}`)
      const login = await app.inject({
        method: 'POST',
        url: '/o/token/',
        headers: FORM,
        payload: new URLSearchParams({ grant_type: 'password', username, password, client_id: client.id, scope: 'read' }).toString()
      })
      if (login.statusCode !== 200) throw new Error(`login: ${login.statusCode}`)
      authorization = `Bearer ${login.json<{ access_token: string }>().access_token}`
    }
    for (let r = 0; r < requests; r++) {
      const me = await app.inject({ url: '/me', headers: { authorization } })
      if (me.statusCode !== 200) throw new Error(`/me: ${me.statusCode}`)
    }
  }
  const wallMs = performance.now() - started
  await app.close()
  return { way, wallMs, peakRssMiB: process.resourceUsage().maxRSS / 1024 }
}

function child (way: Way, users: number, requests: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), ['--child', way, '--users', String(users), '--requests', String(requests)])
    proc.once('message', (message) => resolve(message as Run))
    proc.once('exit', (code) => { if (code !== 0) reject(new Error(`${way}: the child exited with ${code}`)) })
  })
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number

const { values: flags } = parseArgs({
  options: {
    users: { type: 'string', default: '100' },
    requests: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    child: { type: 'string' },
    json: { type: 'boolean', default: false }
  }
})
const users = Number(flags.users)
const requests = Number(flags.requests)

if (flags.child !== undefined) {
  const result = await run(flags.child as Way, users, requests)
  process.send?.(result)
} else {
  const runs: Run[] = []
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const way of WAYS) {
      const result = await child(way, users, requests)
      runs.push(result)
      process.stderr.write(`round ${round + 1}: ${way} ${result.wallMs.toFixed(0)} ms, ${result.peakRssMiB.toFixed(0)} MiB\n`)
    }
  }
  const summary = WAYS.map((way) => {
    const mine = runs.filter((r) => r.way === way)
    return { way, wallMs: Math.round(median(mine.map((r) => r.wallMs))), peakRssMiB: Math.round(median(mine.map((r) => r.peakRssMiB))) }
  })
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ users, requests, rounds: Number(flags.rounds), summary, runs })}\n`)
  } else {
    process.stdout.write(`${users} users × ${requests} requests, median of ${flags.rounds} rounds\n`)
    for (const { way, wallMs, peakRssMiB } of summary) process.stdout.write(`${way.padEnd(12)} ${String(wallMs).padStart(7)} ms ${String(peakRssMiB).padStart(5)} MiB peak RSS\n`)
  }
}
