/**
 * The bearer lookups of one event-loop turn, fetched together. Every request that a busy server parses in
 * the same turn asks for its token before the turn ends. What a lookup costs around the index read is
 * paid once per fetch: on PostgreSQL a round trip (a pool checkout, a socket write and read, the protocol:
 * far more client CPU than the lookup costs the server), on SQLite in WAL mode a read transaction (locks
 * and bookkeeping that cost more than the indexed read). So the lookups of a turn share one fetch.
 */

/** Hashes per fetch at most: a burst larger than this is split over several fetches of the same turn. */
export const MAX_BATCH = 256

/**
 * Fetches the rows of `hashes` (distinct; at most `MAX_BATCH`): the row of `hashes[i]` at `i`, undefined
 * for an unknown hash.
 */
export type FetchRows<Row> = (hashes: string[]) => Array<Row | undefined> | Promise<Array<Row | undefined>>

interface Waiter<Row> {
  resolve: (row: Row | undefined) => void
  reject: (error: unknown) => void
}

export class LookupBatch<Row> {
  readonly #fetch: FetchRows<Row>
  /** The hashes asked for in this turn, each with whoever asked (the same token may come twice). */
  #pending = new Map<string, Array<Waiter<Row>>>()

  constructor (fetch: FetchRows<Row>) {
    this.#fetch = fetch
  }

  /** The row of `accessTokenHash`, or undefined: from the fetch made at the end of this turn. */
  find (accessTokenHash: string): Promise<Row | undefined> {
    if (this.#pending.size === 0) setImmediate(() => this.#flush())
    let waiters = this.#pending.get(accessTokenHash)
    if (waiters === undefined) this.#pending.set(accessTokenHash, waiters = [])
    const list = waiters
    // Not an async function: the caller awaits this promise itself, with no wrapper promise around it.
    return new Promise<Row | undefined>((resolve, reject) => { list.push({ resolve, reject }) })
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
      const rows = await this.#fetch(batch.map(([hash]) => hash))
      for (let i = 0; i < batch.length; i++) {
        for (const waiter of (batch[i] as [string, Array<Waiter<Row>>])[1]) waiter.resolve(rows[i])
      }
    } catch (error) {
      for (const [, waiters] of batch) for (const waiter of waiters) waiter.reject(error)
    }
  }
}
