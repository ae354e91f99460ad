/** LookupBatch: the bearer lookups of one event-loop turn are fetched together. */
import t from 'tap'
import { LookupBatch, MAX_BATCH } from '../lib/store/kysely/lookup-batch.js'

interface Row { access_token_hash: string, id: string }

/**
 * A fetch that answers from `rows`, the row of `hashes[i]` at `i`, recording the hashes of each call;
 * `fail` makes the next call throw.
 */
function fakeFetch (rows: Row[], { sync = false } = {}) {
  const calls: string[][] = []
  const state = { fail: null as Error | null }
  const answer = (hashes: string[]): Array<Row | undefined> => {
    calls.push(hashes)
    const failure = state.fail
    state.fail = null
    if (failure !== null) throw failure
    return hashes.map((hash) => rows.find((row) => row.access_token_hash === hash))
  }
  const fetch = sync ? answer : async (hashes: string[]) => answer(hashes)
  return { calls, state, fetch }
}

const rows: Row[] = [{ access_token_hash: 'a', id: '1' }, { access_token_hash: 'b', id: '2' }]

for (const sync of [false, true]) {
  t.test(`${sync ? 'a synchronous' : 'an asynchronous'} fetch`, async (t) => {
    t.test('the lookups of one turn are one fetch, each asker gets its own row', async (t) => {
      const { calls, fetch } = fakeFetch(rows, { sync })
      const batch = new LookupBatch<Row>(fetch)
      const found = await Promise.all(['b', 'missing', 'a', 'b'].map(async (hash) => await batch.find(hash)))
      t.same(found, [rows[1], undefined, rows[0], rows[1]])
      t.same(calls, [['b', 'missing', 'a']], 'each hash asked once')
    })

    t.test('lookups of later turns are later fetches', async (t) => {
      const { calls, fetch } = fakeFetch(rows, { sync })
      const batch = new LookupBatch<Row>(fetch)
      t.same(await batch.find('a'), rows[0])
      t.same(await batch.find('b'), rows[1])
      t.same(await batch.find('missing'), undefined)
      t.same(calls, [['a'], ['b'], ['missing']])
    })

    t.test('a failed fetch rejects every lookup of its batch, and the next turn fetches again', async (t) => {
      const { calls, state, fetch } = fakeFetch(rows, { sync })
      const batch = new LookupBatch<Row>(fetch)
      state.fail = new Error('connection terminated')
      const results = await Promise.allSettled(['a', 'b', 'a'].map(async (hash) => await batch.find(hash)))
      t.same(results.map((r) => r.status === 'rejected' ? (r.reason as Error).message : r.status),
        ['connection terminated', 'connection terminated', 'connection terminated'])
      t.same(await batch.find('b'), rows[1])
      t.equal(calls.length, 2)
    })
  })
}

t.test(`a burst of more than ${MAX_BATCH} hashes is split into fetches of at most ${MAX_BATCH}`, async (t) => {
  const many = Array.from({ length: MAX_BATCH + 44 }, (_, i) => ({ access_token_hash: `h${i}`, id: String(i) }))
  const { calls, fetch } = fakeFetch(many)
  const batch = new LookupBatch<Row>(fetch)
  const found = await Promise.all(many.map(async (row) => await batch.find(row.access_token_hash)))
  t.same(found, many)
  t.same(calls.map((hashes) => hashes.length), [MAX_BATCH, 44])
})

/** A fetch whose calls stay out until the test answers them, in order. */
function heldFetch (rows: Row[]) {
  const calls: string[][] = []
  const held: Array<{ answer: () => void, fail: (error: Error) => void }> = []
  const fetch = async (hashes: string[]): Promise<Array<Row | undefined>> => {
    calls.push(hashes)
    return await new Promise((resolve, reject) => {
      held.push({ answer: () => { resolve(hashes.map((hash) => rows.find((row) => row.access_token_hash === hash))) }, fail: reject })
    })
  }
  return { calls, held, fetch }
}

/** Lets the turn end, so that a scheduled flush runs. */
async function nextTurn (): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
}

t.test('maxInFlight: what arrives while the fetches are out goes together when one comes back', async (t) => {
  const more = [...rows, { access_token_hash: 'c', id: '3' }]
  const { calls, held, fetch } = heldFetch(more)
  const batch = new LookupBatch<Row>(fetch, { maxInFlight: 1 })
  const first = batch.find('a')
  await nextTurn()
  t.same(calls, [['a']], 'the first turn\'s lookup is sent')
  const later = [batch.find('b')]
  await nextTurn()
  later.push(batch.find('c'), batch.find('b'))
  await nextTurn()
  t.same(calls, [['a']], 'nothing more is sent while one fetch is out')
  held[0]?.answer()
  t.same(await first, more[0])
  t.same(calls, [['a'], ['b', 'c']], 'the lookups of both later turns go in one fetch as soon as it is back')
  held[1]?.answer()
  t.same(await Promise.all(later), [more[1], more[2], more[1]])

  const failing = batch.find('a')
  await nextTurn()
  const waiting = batch.find('c')
  await nextTurn()
  held[2]?.fail(new Error('connection terminated'))
  await t.rejects(failing, { message: 'connection terminated' })
  t.same(calls.at(-1), ['c'], 'a failed fetch frees its place too')
  held[3]?.answer()
  t.same(await waiting, more[2])
})

t.test('maxInFlight: a burst larger than a fetch goes out one fetch at a time', async (t) => {
  const many = Array.from({ length: MAX_BATCH + 44 }, (_, i) => ({ access_token_hash: `h${i}`, id: String(i) }))
  const { calls, held, fetch } = heldFetch(many)
  const batch = new LookupBatch<Row>(fetch, { maxInFlight: 1 })
  const found = Promise.all(many.map(async (row) => await batch.find(row.access_token_hash)))
  await nextTurn()
  t.same(calls.map((hashes) => hashes.length), [MAX_BATCH])
  held[0]?.answer()
  await nextTurn()
  t.same(calls.map((hashes) => hashes.length), [MAX_BATCH, 44])
  held[1]?.answer()
  t.same(await found, many)
})
