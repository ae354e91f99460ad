import { OAuth2Error } from './errors.js'
import type { ResolvedOptions } from './options.js'
import type { ClientRecord } from './store/store.js'

/** RFC 6749 §3.3 scope-token: printable ASCII but space, `"` and `\`. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

function invalidScope (description: string): OAuth2Error {
  return new OAuth2Error('invalid_scope', description)
}

/** Splits a `scope` parameter (RFC 6749 §3.3); an empty value is refused, as Django OAuth Toolkit does. */
function parseScope (scope: string): string[] {
  const scopes = scope.split(' ').filter((s) => s.length > 0)
  if (scopes.length === 0) throw invalidScope('The scope parameter is empty.')
  return [...new Set(scopes)]
}

/**
 * The scopes a new grant gets: those asked (each known and allowed for the client), or the default
 * scopes the client is allowed when none are asked. Never none: a client whose allowed scopes share
 * nothing with the defaults must ask for its scopes (`invalid_scope`), rather than get a token for nothing.
 */
export function grantScopes (requested: string | undefined, client: ClientRecord, options: ResolvedOptions): string[] {
  const allowed = (s: string): boolean => options.scopes.includes(s) && (client.scopes.length === 0 || client.scopes.includes(s))
  if (requested === undefined) {
    const defaults = options.defaultScopes.filter(allowed)
    if (defaults.length === 0) throw invalidScope('No default scope is allowed for this client: ask for a scope.')
    return defaults
  }
  const scopes = parseScope(requested)
  const refused = scopes.find((s) => !allowed(s))
  if (refused !== undefined) throw invalidScope(`The scope "${refused}" is unknown or not allowed for this client.`)
  return scopes
}

/** The scopes of a refreshed token: the original ones, or a subset asked for; never wider (RFC 6749 §6). */
export function narrowScopes (requested: string | undefined, original: readonly string[]): string[] {
  if (requested === undefined) return [...original]
  const scopes = parseScope(requested)
  const wider = scopes.find((s) => !original.includes(s))
  if (wider !== undefined) throw invalidScope(`The scope "${wider}" was not granted to the original token.`)
  return scopes
}
