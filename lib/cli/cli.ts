import { parseArgs } from 'node:util'
import type { Kysely } from 'kysely'
import { CLEANUP_BATCH_SIZE, deleteExpired } from '../cleanup.js'
import { createClient, rotateClientSecret } from '../clients.js'
import { kyselyTransaction } from '../django/import.js'
import type { GrantType, OAuth2Store } from '../store/store.js'
import { openDatabase, redactUrl } from '../store/kysely/connect.js'
import { KyselyStore } from '../store/kysely/kysely-store.js'
import { IMPORT_DJANGO_HELP, runImportDjango } from './import-django.js'

/** Where the CLI writes, and what it reads from the environment; injectable for tests. */
export interface CliIo {
  stdout: (line: string) => void
  stderr: (line: string) => void
  env: Record<string, string | undefined>
}

/** Thrown for a usage error: the message is printed with the command's help hint, exit code 2. */
class UsageError extends Error {}

const BATCH_SIZE = CLEANUP_BATCH_SIZE

const HELP = {
  main: `Usage: fastify-oauth2-server [--db <url>] <command> [options]

Commands:
  migrate                 create or update the tables
  client create           create a client (prints its id, and its secret once)
  client list             list clients
  client delete <id>      delete a client and its tokens
  client rotate-secret <id>
                          give a confidential client a new secret (printed once)
  tokens clear            delete expired tokens, codes and sessions, in batches
  import django           bring users, clients and live tokens over from Django OAuth Toolkit

Options:
  --db <url>              sqlite:<path> or postgres://user:pass@host/db (default: $DATABASE_URL)
  --table-prefix <p>      table name prefix (default: oauth2_)
  -h, --help              help for a command, e.g. "client create --help"`,
  migrate: `Usage: fastify-oauth2-server migrate --db <url>

Creates the tables (or brings them up to date). Safe to run again.`,
  'client create': `Usage: fastify-oauth2-server client create --db <url> --name <name> --type public|confidential
         [--grant password|refresh_token|client_credentials|authorization_code]... [--scope <scope>]...
         [--redirect-uri <uri>]... [--consent] [--refresh-cookie --origin <origin>...] [--json]

Creates a client. Grants default to password and refresh_token; scopes default to every scope the server
knows. The authorization_code grant needs at least one --redirect-uri (matched exactly: https, http on a
loopback host, or a private-use scheme like com.example.app:/callback); --consent makes users approve the
client on a consent page (a third-party client). --refresh-cookie makes a browser client: its refresh token
goes in an HttpOnly cookie, and its token requests must come from one of its --origin values (exactly
https://host[:port], or http on a loopback host), as JSON. A confidential client's secret is printed this once and stored only as a hash.
--json prints one JSON object: {"client_id": "...", "client_secret": "..." | null}`,
  'client list': `Usage: fastify-oauth2-server client list --db <url> [--json]

Lists clients (never their secrets). --json prints {"clients": [...]}.`,
  'client delete': `Usage: fastify-oauth2-server client delete --db <url> <client_id>

Deletes a client and every token issued to it.`,
  'client rotate-secret': `Usage: fastify-oauth2-server client rotate-secret --db <url> <client_id> [--revoke-tokens] [--json]

Gives a confidential client a new secret; the old one stops working at once. The new secret is printed
this once. Tokens issued to the client before keep working until they expire, unless --revoke-tokens
(for a leaked secret) revokes them all. --json prints {"client_id": "...", "client_secret": "...",
"revoked_tokens": N} (revoked_tokens with --revoke-tokens only).`,
  'tokens clear': `Usage: fastify-oauth2-server tokens clear --db <url>

Deletes tokens that can no longer be used (access and refresh token both expired), ended throttle
counters, and expired authorization codes and sessions, in batches of ${BATCH_SIZE}.`,
  'import django': IMPORT_DJANGO_HELP
} as const satisfies Record<string, string>

function help (name: string): string {
  return (HELP as Record<string, string>)[name] as string
}

const OPTIONS = {
  db: { type: 'string' },
  'table-prefix': { type: 'string' },
  name: { type: 'string' },
  type: { type: 'string' },
  grant: { type: 'string', multiple: true },
  scope: { type: 'string', multiple: true },
  'redirect-uri': { type: 'string', multiple: true },
  consent: { type: 'boolean' },
  'refresh-cookie': { type: 'boolean' },
  origin: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  from: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'on-collision': { type: 'string' },
  'clients-and-tokens-only': { type: 'boolean' },
  'refresh-token-ttl': { type: 'string' },
  'revoke-tokens': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS, allowPositionals: true }>>['values']

type Command = (store: OAuth2Store & { migrate?: () => Promise<void> }, values: Values, args: string[], io: CliIo, db: Kysely<any>) => Promise<number>

function only (args: string[], count: number, usage: string): string[] {
  if (args.length !== count) throw new UsageError(usage)
  return args
}

const COMMANDS: Record<string, Command> = {
  async migrate (store, _values, args, io) {
    only(args, 0, 'migrate takes no arguments')
    await (store as KyselyStore).migrate()
    io.stdout('migrations are up to date')
    return 0
  },

  async 'client create' (store, values, args, io) {
    only(args, 0, 'client create takes options only')
    if (values.name === undefined) throw new UsageError('--name is required')
    if (values.type !== 'public' && values.type !== 'confidential') {
      throw new UsageError('--type must be "public" or "confidential"')
    }
    let created
    try {
      created = await createClient(store, {
        name: values.name,
        type: values.type,
        grants: values.grant as GrantType[] | undefined,
        scopes: values.scope,
        redirectUris: values['redirect-uri'],
        requireConsent: values.consent,
        refreshCookie: values['refresh-cookie'],
        origins: values.origin
      })
    } catch (err) {
      if (err instanceof TypeError) throw new UsageError(err.message)
      throw err
    }
    const { client, clientSecret } = created
    if (values.json === true) {
      io.stdout(JSON.stringify({ client_id: client.id, client_secret: clientSecret }))
      return 0
    }
    io.stdout(`client_id: ${client.id}`)
    if (clientSecret !== null) {
      io.stdout(`client_secret: ${clientSecret}`)
      io.stdout('Store the secret now: it is not shown again.')
    }
    return 0
  },

  async 'client list' (store, values, args, io) {
    only(args, 0, 'client list takes no arguments')
    const clients = (await store.listClients()).map((c) => ({
      client_id: c.id,
      name: c.name,
      type: c.type,
      grants: c.grants,
      scopes: c.scopes,
      redirect_uris: c.redirectUris,
      require_consent: c.requireConsent,
      refresh_cookie: c.refreshCookie,
      origins: c.origins,
      created_at: new Date(c.createdAt).toISOString()
    }))
    if (values.json === true) {
      io.stdout(JSON.stringify({ clients }))
      return 0
    }
    if (clients.length === 0) io.stdout('no clients')
    for (const c of clients) {
      const scopes = c.scopes.length === 0 ? 'all' : c.scopes.join(',')
      const redirects = c.redirect_uris.length === 0 ? '' : `  redirect_uris=${c.redirect_uris.join(',')}`
      io.stdout(`${c.client_id}  ${c.type.padEnd(12)}  ${c.name}  grants=${c.grants.join(',')}  scopes=${scopes}${redirects}${c.require_consent ? '  consent' : ''}${c.refresh_cookie ? `  refresh_cookie origins=${c.origins.join(',')}` : ''}`)
    }
    return 0
  },

  async 'client delete' (store, _values, args, io) {
    const [id] = only(args, 1, 'client delete needs exactly one client_id') as [string]
    if (!await store.deleteClient(id)) {
      io.stderr(`error: no client with id "${id}"`)
      return 1
    }
    io.stdout(`deleted client ${id} and its tokens`)
    return 0
  },

  async 'client rotate-secret' (store, values, args, io) {
    const [id] = only(args, 1, 'client rotate-secret needs exactly one client_id') as [string]
    const revokeTokens = values['revoke-tokens'] === true
    const secret = await rotateClientSecret(store, id)
    if (secret === null) {
      io.stderr(`error: no confidential client with id "${id}"`)
      return 1
    }
    // As rotateClientSecret's `revokeTokens` does, here with the count to report.
    const revoked = revokeTokens ? await store.revokeClientTokens(id, Date.now()) : 0
    if (values.json === true) {
      io.stdout(JSON.stringify({ client_id: id, client_secret: secret, ...(revokeTokens ? { revoked_tokens: revoked } : {}) }))
      return 0
    }
    io.stdout(`client_secret: ${secret}\nStore the secret now: it is not shown again.`)
    io.stdout(revokeTokens
      ? `Revoked ${revoked} token record(s) issued to the client.`
      : 'Tokens issued with the old secret stay valid until they expire (--revoke-tokens ends them).')
    return 0
  },

  async 'tokens clear' (store, _values, args, io) {
    only(args, 0, 'tokens clear takes no arguments')
    const { tokens, throttles, codesAndSessions } = await deleteExpired(store, Date.now(), BATCH_SIZE)
    io.stdout(`deleted ${tokens} expired token record(s) and ${throttles} expired throttle counter(s)`)
    io.stdout(`deleted ${codesAndSessions} expired authorization code(s) and session(s)`)
    return 0
  },

  async 'import django' (store, values, args, io, db) {
    only(args, 0, 'import django takes options only')
    if (values.from === undefined) throw new UsageError('--from is required')
    const onCollision = values['on-collision'] ?? 'refuse'
    if (onCollision !== 'rename' && onCollision !== 'refuse') throw new UsageError('--on-collision must be "rename" or "refuse"')
    const ttl = values['refresh-token-ttl'] === undefined ? undefined : Number(values['refresh-token-ttl'])
    if (ttl !== undefined && !(Number.isSafeInteger(ttl) && ttl > 0)) throw new UsageError('--refresh-token-ttl must be a positive number of seconds')
    return await runImportDjango(io, {
      from: values.from,
      store,
      transaction: kyselyTransaction(db, values['table-prefix']),
      dryRun: values['dry-run'] === true,
      onCollision,
      clientsAndTokensOnly: values['clients-and-tokens-only'] === true,
      refreshTokenTtl: ttl
    }, values.json === true)
  }
}

function findCommand (positionals: string[]): { name: string, args: string[] } | null {
  const two = positionals.slice(0, 2).join(' ')
  if (Object.hasOwn(COMMANDS, two)) return { name: two, args: positionals.slice(2) }
  const one = positionals[0]
  if (one !== undefined && Object.hasOwn(COMMANDS, one)) return { name: one, args: positionals.slice(1) }
  return null
}

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function runCli (argv: string[], io: CliIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })
  } catch (err) {
    io.stderr(`error: ${(err as Error).message}\n\n${HELP.main}`)
    return 2
  }
  const { values, positionals } = parsed
  const command = findCommand(positionals)
  if (command === null) {
    if (values.help === true && positionals.length === 0) {
      io.stdout(HELP.main)
      return 0
    }
    io.stderr(`${positionals.length === 0 ? 'error: no command' : `error: unknown command "${positionals.join(' ')}"`}\n\n${HELP.main}`)
    return 2
  }
  if (values.help === true) {
    io.stdout(help(command.name))
    return 0
  }
  const url = values.db ?? io.env.DATABASE_URL
  if (url === undefined || url === '') {
    io.stderr('error: no database: pass --db sqlite:<path> or --db postgres://…, or set DATABASE_URL')
    return 2
  }

  let opened
  try {
    opened = await openDatabase(url)
  } catch (err) {
    io.stderr(`error: ${(err as Error).message}`)
    return 2
  }
  const { db } = opened
  let code: number
  try {
    const store = new KyselyStore({ db, tablePrefix: values['table-prefix'] })
    code = await (COMMANDS[command.name] as Command)(store, values, command.args, io, db)
  } catch (err) {
    const usage = err instanceof UsageError
    io.stderr(usage ? `error: ${err.message}\n\n${help(command.name)}` : `error: ${describeFailure(err, url)}`)
    code = usage ? 2 : 1
  }
  await db.destroy()
  return code
}

/** A one-line reason for a failure, without a password or a stack. */
function describeFailure (err: unknown, url: string): string {
  const where = redactUrl(url)
  const message = (err as Error).message
  if (/no such table|does not exist/.test(message)) {
    return `the tables are missing in ${where}: run "fastify-oauth2-server migrate --db …" first`
  }
  return `cannot use the database ${where}: ${message}`
}
