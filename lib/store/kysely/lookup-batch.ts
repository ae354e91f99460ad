/**
 * The bearer lookups of one event-loop turn, fetched together. Every request that a busy server parses in
 * the same turn asks for its token before the turn ends. What a lookup costs around the index read is
 * paid once per fetch: on PostgreSQL a round trip (a pool checkout, a socket write and read, the protocol:
 * far more client CPU than the lookup costs the server), on SQLite in WAL mode a read transaction (locks
 * and bookkeeping that cost more than the indexed read). So the lookups of a turn share one fetch, and
 * with `maxInFlight` the lookups asked for while fetches are out wait for one of them to come back.
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
  readonly #maxInFlight: number
  /** The hashes asked for and not yet sent, each with whoever asked (the same token may come twice). */
  #pending = new Map<string, Array<Waiter<Row>>>()
  /** Fetches sent and not yet answered. */
  #inFlight = 0

  /**
   * `maxInFlight`: fetches outstanding at most. Past it, the hashes asked for wait for one to come back and
   * then go together in the next: under load a fetch carries everything that arrived during the one
   * before, rather than only what arrived in one turn. A lookup waits for at most one fetch more.
   */
  constructor (fetch: FetchRows<Row>, { maxInFlight = Infinity }: { maxInFlight?: number } = {}) {
    this.#fetch = fetch
    this.#maxInFlight = maxInFlight
  }

  /** The row of `accessTokenHash`, or undefined: from a fetch made at the end of this turn or later. */
  find (accessTokenHash: string): Promise<Row | undefined> {
    // Pending lookups have a flush coming: at the end of this turn, or when the fetch that left them
    // waiting comes back.
    if (this.#pending.size === 0) setImmediate(() => this.#flush())
    let waiters = this.#pending.get(accessTokenHash)
    if (waiters === undefined) this.#pending.set(accessTokenHash, waiters = [])
    const list = waiters
    // Not an async function: the caller awaits this promise itself, with no wrapper promise around it.
    return new Promise<Row | undefined>((resolve, reject) => { list.push({ resolve, reject }) })
  }

  /** Sends what is pending, in fetches of at most `MAX_BATCH`, as far as `maxInFlight` allows. */
  #flush (): void {
    if (this.#pending.size === 0 || this.#inFlight >= this.#maxInFlight) return
    const all = [...this.#pending]
    this.#pending = new Map()
    let start = 0
    for (; start < all.length && this.#inFlight < this.#maxInFlight; start += MAX_BATCH) {
      this.#inFlight++
      void this.#send(all.slice(start, start + MAX_BATCH))
    }
    // What found no room waits for the next fetch to come back (nothing else can be pending yet).
    if (start < all.length) this.#pending = new Map(all.slice(start))
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
    this.#inFlight--
    // What arrived while this fetch was out goes now.
    this.#flush()
  }
}
