/**
 * The LISTEN side of revocations shared across instances, against a scripted `pg` pool: events parsed
 * (anything unknown is "drop everything"), a failed LISTEN released, a dropped connection reported and
 * replaced after failed attempts, and stopping at any moment.
 */
import { EventEmitter } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import type { RevocationEvent } from '../lib/index.js'
import { listenForRevocations, type PgListenClient } from '../lib/store/kysely/revocation-channel.js'

const CHANNEL = 'oauth2_revocations'

class FakeClient extends EventEmitter implements PgListenClient {
  readonly queries: string[] = []
  released: boolean | Error | undefined | 'no' = 'no'
  constructor (private readonly failing: RegExp | null = null) { super() }
  async query (text: string): Promise<unknown> {
    this.queries.push(text)
    if (this.failing?.test(text) === true) throw new Error('refused')
    return {}
  }

  release (destroy?: boolean | Error): void { this.released = destroy }
  notify (payload: string | undefined, channel = CHANNEL): void { this.emit('notification', { channel, payload }) }
}

/** A pool handing out the scripted clients in turn (a string: connect() rejects with it). */
function pool (...script: Array<FakeClient | string>): { connect: () => Promise<FakeClient>, connects: () => number } {
  let connects = 0
  return {
    connect: async () => {
      const next = script[connects++]
      if (next === undefined || typeof next === 'string') throw new Error(next ?? 'no more connections')
      return next
    },
    connects: () => connects
  }
}

t.test('events: revocations of each kind; another channel ignored; anything unknown drops everything', async (t) => {
  const client = new FakeClient()
  const events: RevocationEvent[] = []
  const stop = await listenForRevocations(pool(client), CHANNEL, (event) => events.push(event))
  t.same(client.queries, [`LISTEN "${CHANNEL}"`])
  client.notify('token:t1')
  client.notify('family:f:with:colons')
  client.notify('user:u1', 'other_channel')
  client.notify('weird')
  client.notify('nope:x')
  client.notify(undefined)
  t.same(events, [{ kind: 'all' }, { kind: 'token', id: 't1' }, { kind: 'family', id: 'f:with:colons' }, { kind: 'all' }, { kind: 'all' }, { kind: 'all' }])
  await stop()
  t.same(client.queries, [`LISTEN "${CHANNEL}"`, `UNLISTEN "${CHANNEL}"`])
  t.equal(client.released, undefined, 'released back to the pool, healthy')
})

t.test('a LISTEN that fails: the connection is destroyed and the call rejects', async (t) => {
  const client = new FakeClient(/^LISTEN/)
  await t.rejects(listenForRevocations(pool(client), CHANNEL, () => {}), /refused/)
  t.equal(client.released, true)
})

t.test('a dropped connection: everything dropped, then listening again after failed attempts', async (t) => {
  const first = new FakeClient()
  const second = new FakeClient(/^UNLISTEN/)
  const connections = pool(first, 'server starting up', second)
  const events: RevocationEvent[] = []
  const stop = await listenForRevocations(connections, CHANNEL, (event) => events.push(event))
  first.emit('error', new Error('terminated'))
  t.equal(first.released, true, 'the broken connection is destroyed')
  t.same(events, [{ kind: 'all' }, { kind: 'all' }], 'dropped: drop everything')
  first.emit('error', new Error('again'))
  t.equal(events.length, 2, 'a late error of the old connection changes nothing')
  while (connections.connects() < 3) await delay(10)
  while (events.length < 3) await delay(5)
  t.same(events.at(-1), { kind: 'all' }, 'listening again: drop everything once more')
  second.notify('client:c1')
  t.same(events.at(-1), { kind: 'client', id: 'c1' })
  await stop()
  t.equal(second.released, undefined, 'an UNLISTEN that fails still releases the connection')
})

t.test('stopping while reconnecting stops the attempts', async (t) => {
  const first = new FakeClient()
  const connections = pool(first)
  const stop = await listenForRevocations(connections, CHANNEL, () => {})
  first.emit('error', new Error('terminated'))
  await stop()
  await delay(150)
  t.equal(connections.connects(), 1, 'no new connection after stop')
})

t.test('stopping during the pause before a retry', async (t) => {
  const first = new FakeClient()
  const connections = pool(first, 'down', 'down')
  const stop = await listenForRevocations(connections, CHANNEL, () => {})
  first.emit('error', new Error('terminated'))
  while (connections.connects() < 2) await delay(5)
  await stop()
  t.equal(connections.connects(), 2, 'the retry after the failed attempt never ran')
})
