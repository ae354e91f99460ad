/**
 * `fastify-oauth2-server import django`: runs `importFromDjango` and prints its report, by users and
 * client ids only (never a hash, secret or token).
 */
import type { DjangoImportOptions, DjangoImportReport, ImportCounts, ImportSkip } from '../django/import.js'
import { importFromDjango } from '../django/import.js'
import { DjangoSourceError } from '../django/source.js'

export const IMPORT_DJANGO_HELP = `Usage: fastify-oauth2-server import django --db <url> --from <sqlite:<path> | postgres://…>
         [--dry-run] [--on-collision rename|refuse] [--clients-and-tokens-only] [--refresh-token-ttl <s>] [--json]

Brings a Django OAuth Toolkit project over: active users with a usable password (their Django hashes,
re-hashed at each user's first login), applications (same client_id and secret), and live access and
refresh tokens, so that nobody logs in again. Django's database is only read (a SQLite file is opened
read-only). Run it again to bring what changed since: new users, changed passwords, new and revoked tokens.

  --dry-run                  report what would happen, write nothing
  --on-collision refuse      (default) if two usernames differ only by case, write nothing and list them
  --on-collision rename      the user with the lower id keeps the name, the other becomes <name>_<id>
  --clients-and-tokens-only  keep Django's auth_user (djangoUsers): bring clients and tokens only
  --refresh-token-ttl <s>    lifetime of each imported refresh token from now (default 2592000, 30 days)
  --json                     print the report as one JSON object`

function line (kind: string, c: ImportCounts): string {
  return `${kind}: ${c.created} created, ${c.updated} updated, ${c.unchanged} unchanged, ${c.skipped} skipped`
}

function describeSkip (s: ImportSkip): string {
  if (s.kind === 'user') return `user ${s.id} "${s.name as string}": ${s.reason}`
  if (s.kind === 'redirect_uri') return `redirect URI of client ${s.id}: ${s.reason}`
  return `client ${s.id}: ${s.reason}`
}

/** The report as lines: counts, renames, skips (tokens grouped by reason, with DOT's row ids), notes. */
export function formatImportReport (report: DjangoImportReport): string[] {
  const lines: string[] = []
  if (report.refused) {
    lines.push('refused: these usernames differ from others only by case (unique by case folding here); nothing was written.')
    for (const c of report.collisions) {
      lines.push(`  user ${c.id} "${c.username}" collides with user ${c.collidesWith.id} "${c.collidesWith.username}"`)
    }
    lines.push('Run again with --on-collision rename to rename them (user <id> becomes <name>_<id>), or rename them in Django first.')
    return lines
  }
  if (report.dryRun) lines.push('dry run: nothing was written')
  lines.push(line('users', report.users), line('clients', report.clients), line('tokens', report.tokens))
  for (const c of report.collisions) {
    if (c.renamedTo !== null) lines.push(`renamed: user ${c.id} "${c.username}" -> "${c.renamedTo}" (collides with user ${c.collidesWith.id} "${c.collidesWith.username}")`)
  }
  const tokens = new Map<string, string[]>()
  for (const s of report.skipped) {
    if (s.kind === 'access_token' || s.kind === 'refresh_token') {
      const key = `${s.kind.replace('_', ' ')}s: ${s.reason}`
      tokens.set(key, [...(tokens.get(key) ?? []), s.id])
    } else {
      lines.push(`skipped: ${describeSkip(s)}`)
    }
  }
  for (const [key, ids] of tokens) lines.push(`skipped ${ids.length} ${key} (DOT ids ${ids.join(', ')})`)
  for (const note of report.notes) lines.push(`note: ${note}`)
  lines.push(`took ${report.ms} ms`)
  return lines
}

/** Runs the import and prints it; resolves to the exit code (1 when refused or Django's database is unreadable). */
export async function runImportDjango (
  io: { stdout: (line: string) => void, stderr: (line: string) => void },
  options: DjangoImportOptions,
  json: boolean
): Promise<number> {
  let report
  try {
    report = await importFromDjango(options)
  } catch (err) {
    if (!(err instanceof DjangoSourceError)) throw err
    io.stderr(`error: ${err.message}`)
    return 1
  }
  if (json) io.stdout(JSON.stringify(report))
  else for (const l of formatImportReport(report)) io.stdout(l)
  return report.refused ? 1 : 0
}
