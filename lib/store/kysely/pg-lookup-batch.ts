/**
 * The bearer lookups of one event-loop turn on PostgreSQL, sent as one query. Every request that a busy
 * server parses in the same turn asks for its token before the turn ends; a round trip to PostgreSQL
 * costs the client far more CPU (a pool checkout, a socket write and read, the protocol) than the
 * index lookup costs the server, so one `= any($1)` query for all of them costs little more than one.
 * A lone lookup keeps its own `= $1` statement: PostgreSQL plans the array form for several rows, and it
 * costs a lone lookup on a quiet server more than the round trip it would share.
 */

import type { PgPool } from './kysely-store.js'

/** Hashes per query at most: a burst larger than this is split over several queries of the same turn. */
export const MAX_BATCH = 256

interface Waiter<Row> {
  resolve: (row: Row | undefined) => void
  reject: (error: unknown) => void
}

/** A named prepared statement: pg parses it once per connection under `name`. */
export interface NamedStatement {
  name: string
  text: string
}

export class PgLookupBatch<Row extends { access_token_hash: string }> {
  readonly #pool: PgPool
  readonly #one: NamedStatement
  readonly #many: NamedStatement
  /** The hashes asked for in this turn, each with whoever asked (the same token may come twice). */
  #pending = new Map<string, Array<Waiter<Row>>>()

  /**
   * `one` selects the row of `access_token_hash = $1`, `many` the rows of `access_token_hash = any($1)`;
   * their rows carry `access_token_hash`, by which they go back to whoever asked.
   */
  constructor (pool: PgPool, one: NamedStatement, many: NamedStatement) {
    this.#pool = pool
    this.#one = one
    this.#many = many
  }

  /** The row of `accessTokenHash`, or undefined: from the query sent at the end of this turn. */
  async find (accessTokenHash: string): Promise<Row | undefined> {
    if (this.#pending.size === 0) setImmediate(() => this.#flush())
    let waiters = this.#pending.get(accessTokenHash)
    if (waiters === undefined) this.#pending.set(accessTokenHash, waiters = [])
    const list = waiters
    return await new Promise<Row | undefined>((resolve, reject) => { list.push({ resolve, reject }) })
  }

  #flush (): void {
    const batch = [...this.#pending]
    this.#pending = new Map()
    for (let start = 0; start < batch.length; start += MAX_BATCH) {
      void this.#send(batch.slice(start, start + MAX_BATCH))
    }
  }

  async #send (batch: Array<[string, Array<Waiter<Row>>]>): Promise<void> {
    try {
      const hashes = batch.map(([hash]) => hash)
      const { rows } = await this.#pool.query(hashes.length === 1
        ? { ...this.#one, values: hashes }
        : { ...this.#many, values: [hashes] })
      const byHash = new Map((rows as Row[]).map((row) => [row.access_token_hash, row]))
      for (const [hash, waiters] of batch) {
        const row = byHash.get(hash)
        for (const waiter of waiters) waiter.resolve(row)
      }
    } catch (error) {
      for (const [, waiters] of batch) for (const waiter of waiters) waiter.reject(error)
    }
  }
}
