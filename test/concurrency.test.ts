/**
 * Every limit and every token rule holds when requests arrive at once: requests sent in parallel over real
 * HTTP (not `inject`) to a listening server, on every store; and two server instances sharing one
 * PostgreSQL database share the limits and the refresh rules.
 */
import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import oauth2, { createClient, KyselyStore, openDatabase, type OAuth2ServerOptions, type OAuth2Store } from '../lib/index.js'
import { startPostgres } from './fixtures/postgres.js'
import { forEachStore } from './fixtures/stores.js'

const T0 = Date.UTC(2026, 5, 1)
const LIMITS = { loginFailuresPerUser: 5, loginFailuresPerIp: 20, signUpsPerIp: 10, window: 900 }

interface Server {
  url: string
  clientId: string
  advance: (seconds: number) => void
}

interface Answer {
  status: number
  headers: Headers
  body: Record<string, string>
}

/** A listening app with the plugin on `store`; its clock starts at T0 and moves with `advance`. */
async function listen (t: Test, store: OAuth2Store, options: Partial<OAuth2ServerOptions> = {}, clientId?: string): Promise<Server> {
  let now = T0
  const app: FastifyInstance = Fastify()
  t.teardown(() => app.close())
  await app.register(oauth2, { store, now: () => now, throttle: LIMITS, ...options })
  app.get('/me', { onRequest: app.oauth2.authenticate() }, async (request) => request.user)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const id = clientId ?? (await createClient(store, { name: 'spa', type: 'public', now: T0 })).client.id
  return { url, clientId: id, advance: (seconds) => { now += seconds * 1000 } }
}

async function post (server: Server, path: string, form: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', body: new URLSearchParams(form) })
  return { status: res.status, headers: res.headers, body: await res.json() as Record<string, string> }
}

const signUp = async (server: Server, username: string, password: string): Promise<Answer> =>
  await post(server, '/sign_up/', { username, password })
const login = async (server: Server, username: string, password: string): Promise<Answer> =>
  await post(server, '/o/token/', { grant_type: 'password', username, password, client_id: server.clientId })
const refresh = async (server: Server, refreshToken: string): Promise<Answer> =>
  await post(server, '/o/token/', { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: server.clientId })

async function me (server: Server, accessToken: string): Promise<number> {
  return (await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status
}

/** Sends `count` requests at once and tallies their statuses. */
async function burst (count: number, send: (i: number) => Promise<Answer>): Promise<{ answers: Answer[], tally: Record<number, number> }> {
  const answers = await Promise.all(Array.from({ length: count }, async (_, i) => await send(i)))
  const tally: Record<number, number> = {}
  for (const answer of answers) tally[answer.status] = (tally[answer.status] ?? 0) + 1
  return { answers, tally }
}

/** A user signed up and logged in: the pair of its login. */
async function loggedIn (t: Test, server: Server): Promise<Record<string, string>> {
  t.equal((await signUp(server, 'pony', 'djangsta-secret')).status, 201)
  const first = await login(server, 'pony', 'djangsta-secret')
  t.equal(first.status, 200)
  return first.body
}

/**
 * Each 200 of a refresh burst gives a pair that works and refreshes onward, to a pair that works: resolves
 * to those onward pairs' access tokens.
 */
async function everyPairWorks (t: Test, server: Server, answers: Answer[]): Promise<string[]> {
  const onwardAccess: string[] = []
  for (const answer of answers.filter((a) => a.status === 200)) {
    t.equal(await me(server, answer.body.access_token as string), 200, 'the access token works')
    const onward = await refresh(server, answer.body.refresh_token as string)
    t.equal(onward.status, 200, 'the refresh token refreshes onward')
    t.equal(await me(server, onward.body.access_token as string), 200)
    onwardAccess.push(onward.body.access_token as string)
  }
  return onwardAccess
}

forEachStore(t, async (t, open) => {
  t.test('100 wrong-password guesses for one user at once: exactly 5 are checked, the rest get 429', async (t) => {
    const server = await listen(t, await open(t))
    t.equal((await signUp(server, 'victim', 'correct-horse')).status, 201)
    const { answers, tally } = await burst(100, async (i) => await login(server, 'victim', `guess-${i}`))
    t.same(tally, { 400: 5, 429: 95 })
    for (const answer of answers.filter((a) => a.status === 429)) {
      t.equal(answer.body.error, 'slow_down')
      t.equal(answer.headers.get('retry-after'), '900')
    }
    t.equal((await login(server, 'victim', 'correct-horse')).status, 429, 'the right password too, for this window')
  })

  t.test('guesses at once across 40 usernames from one IP: exactly the per-IP limit is checked', async (t) => {
    const server = await listen(t, await open(t))
    const { tally } = await burst(40, async (i) => await login(server, `nobody-${i}`, 'guess'))
    t.same(tally, { 400: LIMITS.loginFailuresPerIp, 429: 40 - LIMITS.loginFailuresPerIp })
  })

  t.test('10 users log in at once from one IP: every login succeeds and is taken back from the IP\'s count', async (t) => {
    const server = await listen(t, await open(t))
    for (let i = 0; i < 10; i++) t.equal((await signUp(server, `member-${i}`, 'djangsta-secret')).status, 201)
    const { tally } = await burst(10, async (i) => await login(server, `member-${i}`, 'djangsta-secret'))
    t.same(tally, { 200: 10 })
    // The IP's allowance is whole again: of guesses at once across usernames, exactly its limit is checked.
    const guesses = await burst(40, async (i) => await login(server, `nobody-${i}`, 'guess'))
    t.same(guesses.tally, { 400: LIMITS.loginFailuresPerIp, 429: 40 - LIMITS.loginFailuresPerIp })
  })

  t.test('30 sign-ups at once from one IP: exactly 10 are created', async (t) => {
    const store = await open(t)
    const server = await listen(t, store)
    const { tally } = await burst(30, async (i) => await signUp(server, `user-${i}`, 'djangsta-secret'))
    t.same(tally, { 201: 10, 429: 20 })
    let stored = 0
    for (let i = 0; i < 30; i++) if (await store.findUserByUsernameKey(`user-${i}`) !== null) stored++
    t.equal(stored, 10, 'what the store holds afterwards')
  })

  t.test('10 racing refreshes of one token: the user stays logged in, every 200 pair works and refreshes onward', async (t) => {
    const server = await listen(t, await open(t))
    const first = await loggedIn(t, server)
    const { answers, tally } = await burst(10, async () => await refresh(server, first.refresh_token as string))
    t.same(tally, { 200: 5, 400: 5 }, 'at most MAX_REFRESH_EXCHANGES (5) exchanges of one token')
    for (const answer of answers.filter((a) => a.status === 400)) t.equal(answer.body.error, 'invalid_grant')
    await everyPairWorks(t, server, answers)
  })

  t.test('20 redemptions at once of a rotated token inside the window: bounded, the family lives', async (t) => {
    const server = await listen(t, await open(t))
    const first = await loggedIn(t, server)
    const second = await refresh(server, first.refresh_token as string)
    t.equal(second.status, 200)
    server.advance(4)
    const { answers, tally } = await burst(20, async () => await refresh(server, first.refresh_token as string))
    t.same(tally, { 200: 4, 400: 16 }, 'four more exchanges after the rotation, five in all')
    t.equal(await me(server, second.body.access_token as string), 200, 'the first pair is alive')
    await everyPairWorks(t, server, answers)
  })

  t.test('replays at once after the window: the whole family is dead', async (t) => {
    const server = await listen(t, await open(t))
    const first = await loggedIn(t, server)
    const second = await refresh(server, first.refresh_token as string)
    server.advance(5)
    const { tally } = await burst(10, async () => await refresh(server, first.refresh_token as string))
    t.same(tally, { 400: 10 })
    t.equal(await me(server, second.body.access_token as string), 401, 'the newest access token is dead')
    t.equal((await refresh(server, second.body.refresh_token as string)).status, 400, 'and its refresh token')
  })
})

t.test('two instances on one PostgreSQL database share the limits and the refresh rules', async (t) => {
  const pg = await startPostgres(t)
  if (pg === null) return
  const tablePrefix = `t_${randomBytes(6).toString('hex')}_`
  const stores: KyselyStore[] = []
  for (let i = 0; i < 2; i++) {
    const { db, pgPool } = await openDatabase(pg.url)
    t.teardown(async () => await db.destroy())
    const store = new KyselyStore({ db, pgPool, tablePrefix })
    await store.migrate()
    stores.push(store)
  }
  const a = await listen(t, stores[0]!)
  const b = await listen(t, stores[1]!, {}, a.clientId)
  const servers = [a, b]
  const on = (i: number): Server => servers[i % 2]!
  const advance = (seconds: number): void => servers.forEach((s) => s.advance(seconds))

  t.equal((await signUp(a, 'victim', 'correct-horse')).status, 201)
  const guesses = await burst(60, async (i) => await login(on(i), 'victim', `guess-${i}`))
  t.same(guesses.tally, { 400: 5, 429: 55 }, 'one limit across both instances')

  const signUps = await burst(20, async (i) => await signUp(on(i), `user-${i}`, 'djangsta-secret'))
  t.same(signUps.tally, { 201: 9, 429: 11 }, 'one sign-up limit: 10 in all, one of them before')

  advance(901)
  const first = await login(a, 'victim', 'correct-horse')
  t.equal(first.status, 200)
  const racing = await burst(10, async (i) => await refresh(on(i), first.body.refresh_token as string))
  t.same(racing.tally, { 200: 5, 400: 5 }, 'one bound on exchanges across both instances')
  const branches = await everyPairWorks(t, a, racing.answers)

  advance(5)
  t.equal((await refresh(b, first.body.refresh_token as string)).status, 400, 'replayed after the window, on the other instance')
  for (const access of branches) t.equal(await me(a, access), 401, 'every branch of the family is dead')
})
