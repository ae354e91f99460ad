/**
 * Hashing on every core without slowing the API: on Linux the hashes run in worker threads that lower their
 * own OS priority to the lowest (nice 19), while the event loop's thread keeps its own; the bounded queue and
 * its 503 stay as they were.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { getPriority } from 'node:os'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { LOWEST_PRIORITY, LowPriorityPool } from '../lib/crypto/low-priority-pool.js'
import { ARGON2_MEMORY_KIB, PasswordHasher } from '../lib/crypto/passwords.js'
import { OAuth2Error } from '../lib/errors.js'
import { buildApp, loggedIn } from './fixtures/app.js'

const linux = process.platform === 'linux'

t.test('the pool\'s threads run at the lowest priority; the event loop\'s thread keeps its own', { skip: !linux && 'Linux only' }, async (t) => {
  const pool = new LowPriorityPool(2)
  t.teardown(async () => await pool.close())
  const before = getPriority()
  t.same(await Promise.all([pool.threadPriority(), pool.threadPriority()]), [LOWEST_PRIORITY, LOWEST_PRIORITY], 'both threads')
  t.equal(pool.loweredTo, LOWEST_PRIORITY)
  t.equal(getPriority(), before, 'the main thread is untouched')
})

t.test('hash and verify on low-priority threads: the same PHC strings, unreadable hashes false', async (t) => {
  const hasher = new PasswordHasher({ concurrency: 2, maxQueue: 4, retryAfter: 1, lowPriority: true })
  t.teardown(async () => await hasher.close())
  t.not(hasher.pool, null)
  const stored = await hasher.hash('djangsta-secret')
  t.match(stored, new RegExp(`^\\$argon2id\\$v=19\\$m=${ARGON2_MEMORY_KIB},t=2,p=1\\$`))
  t.equal(await hasher.verify(stored, 'djangsta-secret'), true)
  t.equal(await hasher.verify(stored, 'wrong'), false)
  t.equal(await hasher.verify('$argon2id$garbage', 'x'), false, 'an unreadable hash is false, not an error')
  t.equal(await hasher.verify(null, 'x'), false, 'the dummy check too')
  const libuv = new PasswordHasher({ concurrency: 1, maxQueue: 1, retryAfter: 1 })
  t.equal(libuv.pool, null, 'without lowPriority, libuv\'s pool as before')
  t.equal(await libuv.verify(stored, 'djangsta-secret'), true, 'and either verifies the other\'s hashes')
  await libuv.close()
})

t.test('the bounded queue still sheds with 503 past concurrency + maxQueue', async (t) => {
  const hasher = new PasswordHasher({ concurrency: 1, maxQueue: 1, retryAfter: 3, lowPriority: true })
  t.teardown(async () => await hasher.close())
  const first = hasher.hash('one')
  const second = hasher.hash('two')
  await t.rejects(hasher.hash('three'), new OAuth2Error('temporarily_unavailable', 'The server is busy; retry later.', 503))
  t.match(await Promise.all([first, second]), [/^\$argon2id\$/, /^\$argon2id\$/])
})

t.test('a failed hash rejects, and a thread that ended is replaced', async (t) => {
  const pool = new LowPriorityPool(1)
  t.teardown(async () => await pool.close())
  await t.rejects(pool.hash('x', { memoryCost: 1 }), Error, 'argon2 refuses a memory cost below its minimum')
  const jobs = [pool.hash('x', { memoryCost: 8, timeCost: 1 }), pool.hash('y', { memoryCost: 8, timeCost: 1 })]
  await t.rejects(jobs[1]!, /more than 1 jobs at once/, 'the caller must bound the jobs to the pool\'s size')
  await jobs[0]
  t.match(await pool.hash('x', { memoryCost: 8, timeCost: 1 }), /^\$argon2/, 'the same thread goes on')
  const long = pool.hash('x', { memoryCost: 8, timeCost: 2000 })
  await pool.close()
  await t.rejects(long, /the worker thread ended/, 'a job cut short by close() rejects')
  t.match(await pool.hash('x', { memoryCost: 8, timeCost: 1 }), /^\$argon2/, 'a new thread after close')
})

/** Threads of this process running at the lowest priority, read from /proc (the nice value is field 19). */
function lowPriorityThreads (): number {
  return readdirSync('/proc/self/task').filter((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16] === String(LOWEST_PRIORITY)
  }).length
}

t.test('an app logs in and signs up through low-priority threads, and ends them when it closes', { skip: !linux && 'Linux only' }, async (t) => {
  const before = lowPriorityThreads()
  const ctx = await buildApp(t, { hashing: { lowPriority: true, concurrency: 2 } })
  const tokens = await loggedIn(ctx)
  t.equal((await ctx.me(tokens.access_token)).statusCode, 200)
  t.ok(lowPriorityThreads() > before, 'the hashes ran on threads at nice 19')
  await ctx.app.close()
  const start = Date.now()
  while (lowPriorityThreads() > before && Date.now() - start < 5000) await delay(20)
  t.equal(lowPriorityThreads(), before, 'closing the app ended them')
})
