/**
 * Revocations shared across server instances on PostgreSQL: every revocation a `KyselyStore` makes is
 * announced with `NOTIFY` on a channel of its table prefix, and each instance that caches verified tokens
 * `LISTEN`s on one connection of its own, so that another instance's (or the CLI's) revocation reaches its
 * cache within milliseconds. While that connection is down nothing can be trusted: the listener is told to
 * drop everything, and again once listening resumes.
 */
import { setTimeout as delay } from 'node:timers/promises'
import type { RevocationEvent, RevocationKind } from '../store.js'

/** A `pg` client as the listener uses it. */
export interface PgListenClient {
  query (text: string): Promise<unknown>
  on (event: 'notification', listener: (message: { channel: string, payload?: string }) => void): unknown
  on (event: 'error', listener: (error: Error) => void): unknown
  release (destroy?: boolean | Error): void
}

/** What the listener needs of a `pg` Pool: a connection of its own. */
export interface PgListenPool {
  connect (): Promise<PgListenClient>
}

const KINDS: ReadonlySet<string> = new Set<RevocationKind>(['token', 'family', 'user', 'client'])
/** Pauses between attempts to listen again after the connection dropped: the first, and the longest. */
const FIRST_RETRY_MS = 50
const LONGEST_RETRY_MS = 5000

/** The channel of a table prefix (a validated identifier, quoted where it is used). */
export function revocationChannel (tablePrefix: string): string {
  return `${tablePrefix}revocations`
}

/** The payload of a revocation: its kind and the id of what was revoked. */
export function revocationPayload (kind: RevocationKind, id: string): string {
  return `${kind}:${id}`
}

function parse (payload: string | undefined): RevocationEvent {
  const colon = payload?.indexOf(':') ?? -1
  const kind = payload?.slice(0, colon) ?? ''
  // Anything not understood is treated as the worst case: drop everything.
  if (colon < 0 || !KINDS.has(kind)) return { kind: 'all' }
  return { kind: kind as RevocationKind, id: (payload as string).slice(colon + 1) }
}

/**
 * Listens on `channel` until the returned function is called. `listener` gets each revocation, and
 * `{ kind: 'all' }` whenever the connection dropped or was (re)established.
 */
export async function listenForRevocations (pool: PgListenPool, channel: string, listener: (event: RevocationEvent) => void): Promise<() => Promise<void>> {
  let stopped = false
  let client: PgListenClient | null = null
  let reconnecting: Promise<void> | null = null

  const listen = async (): Promise<void> => {
    const next = await pool.connect()
    next.on('notification', (message) => {
      if (message.channel === channel) listener(parse(message.payload))
    })
    next.on('error', () => {
      if (client !== next) return
      client = null
      next.release(true)
      listener({ kind: 'all' })
      if (!stopped) reconnecting = reconnect()
    })
    try {
      await next.query(`LISTEN "${channel}"`)
    } catch (err) {
      next.release(true)
      throw err
    }
    client = next
    listener({ kind: 'all' })
  }

  /** Tries to listen again after `pause`, doubling the pause after each failure, until stopped. */
  const reconnect = async (pause = FIRST_RETRY_MS): Promise<void> => {
    await delay(pause)
    if (stopped) return
    try {
      await listen()
    } catch {
      await reconnect(Math.min(pause * 2, LONGEST_RETRY_MS))
    }
  }

  await listen()
  return async () => {
    stopped = true
    await reconnecting
    const last = client
    client = null
    if (last !== null) {
      await last.query(`UNLISTEN "${channel}"`).catch(() => {})
      last.release()
    }
  }
}
