/**
 * The tables of `KyselyStore`, as Kysely table interfaces. Every table name carries the store's prefix
 * (`oauth2_` by default): `OAuth2Tables` names them without it, and the store adds it to every query.
 *
 * Times are milliseconds since the epoch in `bigint` columns. node-pg returns `bigint` as a string and
 * better-sqlite3 as a number (or a bigint in safe-integers mode), so a selected time is any of the three
 * and the store converts it with `Number()`. Scopes and grants are space-separated text.
 */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely'
import type { ClientType } from '../store.js'

/** A `bigint` column of milliseconds since the epoch. */
export type MillisColumn = ColumnType<number | string | bigint, number, number>

/** A nullable `bigint` column of milliseconds since the epoch. */
export type NullableMillisColumn = ColumnType<number | string | bigint | null, number | null, number | null>

/** A nullable `bigint` time column that starts out `NULL` (left out on insert). */
export type UnsetMillisColumn = ColumnType<number | string | bigint | null, number | null | undefined, number | null>

/** `{prefix}users` */
export interface UserTable {
  id: string
  username: string
  /** Unique. */
  username_key: string
  password_hash: string
  created_at: MillisColumn
}

/** `{prefix}clients` */
export interface ClientTable {
  id: string
  name: string
  type: ClientType
  secret_hash: string | null
  /** Space-separated grant types. */
  grants: string
  /** Space-separated scopes; empty for every configured scope. */
  scopes: string
  /** Space-separated redirection URIs (a URI has no space). */
  redirect_uris: Generated<string>
  /** 1 when the user must approve the client, else 0 (an integer on both databases). */
  require_consent: Generated<number>
  /** 1 when the refresh token goes in an HttpOnly cookie, else 0. */
  refresh_cookie: Generated<number>
  /** Space-separated web origins of a browser client (an origin has no space). */
  origins: Generated<string>
  created_at: MillisColumn
}

/** `{prefix}tokens` */
export interface TokenTable {
  id: string
  family_id: string
  parent_id: string | null
  /** References `clients.id`; a client's tokens are deleted with it. */
  client_id: string
  /**
   * The user's id: in `users`, or in the app's own table (the plugin's `users` option), so no foreign key.
   * `null` for client-credentials tokens.
   */
  user_id: string | null
  /** Space-separated scopes. */
  scopes: string
  /** Unique. */
  access_token_hash: string
  /** Unique where present. */
  refresh_token_hash: string | null
  access_expires_at: MillisColumn
  refresh_expires_at: NullableMillisColumn
  /** The later of the two expiries, stored on insert: the record can be deleted once it has passed. */
  expires_at: MillisColumn
  created_at: MillisColumn
  rotated_at: UnsetMillisColumn
  revoked_at: UnsetMillisColumn
  /** How many times the refresh token has been exchanged (0 until its rotation; more inside the reuse window). */
  exchanges: Generated<number>
}

/** `{prefix}throttles` */
export interface ThrottleTable {
  /** An opaque hash made by the plugin (never a username or an address in clear). */
  key: string
  hits: number
  /** When the window ends. */
  reset_at: MillisColumn
}

/** `{prefix}authorization_codes` */
export interface AuthorizationCodeTable {
  /** SHA-256 (hex) of the code. */
  code_hash: string
  /** References `clients.id`; a client's codes are deleted with it. */
  client_id: string
  user_id: string
  redirect_uri: string
  /** Space-separated scopes. */
  scopes: string
  code_challenge: string
  created_at: MillisColumn
  expires_at: MillisColumn
  used_at: UnsetMillisColumn
  family_id: ColumnType<string | null, string | null | undefined, string | null>
}

/** `{prefix}sessions` */
export interface SessionTable {
  /** SHA-256 (hex) of the session id. */
  id_hash: string
  user_id: string
  created_at: MillisColumn
  expires_at: MillisColumn
}

/** The store's tables, named without their prefix. */
export interface OAuth2Tables {
  users: UserTable
  clients: ClientTable
  tokens: TokenTable
  throttles: ThrottleTable
  authorization_codes: AuthorizationCodeTable
  sessions: SessionTable
}

export type UserRow = Selectable<UserTable>
export type NewUserRow = Insertable<UserTable>
export type ClientRow = Selectable<ClientTable>
export type NewClientRow = Insertable<ClientTable>
export type TokenRow = Selectable<TokenTable>
export type NewTokenRow = Insertable<TokenTable>
export type AuthorizationCodeRow = Selectable<AuthorizationCodeTable>
export type SessionRow = Selectable<SessionTable>

/** The prefix of every table `KyselyStore` creates when none is given. */
export const DEFAULT_TABLE_PREFIX = 'oauth2_'
