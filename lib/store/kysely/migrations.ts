/**
 * The migrations of `KyselyStore`, supplied in code. A migration is frozen once released: it names its
 * tables and columns literally (never through the evolving table types) and later changes get a new
 * migration. Every name carries the store's table prefix, and the Kysely migrator records them in the
 * store's own tables (`{prefix}migrations`, `{prefix}migrations_lock`), apart from the app's migrations.
 */
import { sql, SqliteAdapter, type Kysely, type Migration, type MigrationProvider } from 'kysely'

/** The names of the migrator's own tables for a table prefix. */
export function migrationTableNames (tablePrefix: string): { migrationTableName: string, migrationLockTableName: string } {
  return {
    migrationTableName: `${tablePrefix}migrations`,
    migrationLockTableName: `${tablePrefix}migrations_lock`
  }
}

/** Supplies the store's migrations for one table prefix to a Kysely `Migrator`. */
export class OAuth2MigrationProvider implements MigrationProvider {
  readonly #tablePrefix: string

  constructor (tablePrefix: string) {
    this.#tablePrefix = tablePrefix
  }

  /** Every migration, keyed by name; the migrator runs them in name order. */
  async getMigrations (): Promise<Record<string, Migration>> {
    return {
      '0001_initial': initial(this.#tablePrefix),
      '0002_throttles': throttles(this.#tablePrefix),
      '0003_refresh_exchanges': refreshExchanges(this.#tablePrefix),
      '0004_username_case_fold': usernameCaseFold(this.#tablePrefix),
      '0005_client_redirect_uris': clientRedirectUris(this.#tablePrefix),
      '0006_authorization_codes': authorizationCodes(this.#tablePrefix),
      '0007_sessions': sessions(this.#tablePrefix),
      '0008_client_origins': clientOrigins(this.#tablePrefix),
      '0009_drop_token_parent_index': dropTokenParentIndex(this.#tablePrefix),
      '0010_lean_throttles': leanThrottles(this.#tablePrefix),
      '0011_user_sessions_index': userSessionsIndex(this.#tablePrefix)
    }
  }
}

/**
 * Runs `body` in a transaction. The migrator wraps each migration in one on PostgreSQL but not on SQLite
 * (Kysely assumes no transactional DDL there, yet SQLite has it): without this a failed migration could
 * leave half its tables behind.
 */
async function inTransaction (db: Kysely<any>, body: (db: Kysely<any>) => Promise<void>): Promise<void> {
  if (db.isTransaction) return await body(db)
  await db.transaction().execute(body)
}

/** Users, clients and tokens. */
function initial (p: string): Migration {
  return {
    async up (db: Kysely<any>): Promise<void> {
      await inTransaction(db, async (db) => {
        await db.schema.createTable(`${p}users`)
          .addColumn('id', 'text', (col) => col.primaryKey())
          .addColumn('username', 'text', (col) => col.notNull())
          .addColumn('username_key', 'text', (col) => col.notNull())
          .addColumn('password_hash', 'text', (col) => col.notNull())
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .execute()
        await db.schema.createIndex(`${p}users_username_key_idx`).unique()
          .on(`${p}users`).column('username_key').execute()

        await db.schema.createTable(`${p}clients`)
          .addColumn('id', 'text', (col) => col.primaryKey())
          .addColumn('name', 'text', (col) => col.notNull())
          .addColumn('type', 'text', (col) => col.notNull())
          .addColumn('secret_hash', 'text')
          .addColumn('grants', 'text', (col) => col.notNull())
          .addColumn('scopes', 'text', (col) => col.notNull())
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .execute()

        await db.schema.createTable(`${p}tokens`)
          .addColumn('id', 'text', (col) => col.primaryKey())
          .addColumn('family_id', 'text', (col) => col.notNull())
          .addColumn('parent_id', 'text')
          .addColumn('client_id', 'text', (col) =>
            col.notNull().references(`${p}clients.id`).onDelete('cascade'))
          // No foreign key to users: with the plugin's `users` option the users live in the app's own table.
          .addColumn('user_id', 'text')
          .addColumn('scopes', 'text', (col) => col.notNull())
          .addColumn('access_token_hash', 'text', (col) => col.notNull())
          .addColumn('refresh_token_hash', 'text')
          .addColumn('access_expires_at', 'bigint', (col) => col.notNull())
          .addColumn('refresh_expires_at', 'bigint')
          .addColumn('expires_at', 'bigint', (col) => col.notNull())
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .addColumn('rotated_at', 'bigint')
          .addColumn('revoked_at', 'bigint')
          .execute()
        // Unique indexes allow any number of NULLs on both databases: refresh hashes are unique where present.
        for (const column of ['access_token_hash', 'refresh_token_hash']) {
          await db.schema.createIndex(`${p}tokens_${column}_idx`).unique()
            .on(`${p}tokens`).column(column).execute()
        }
        // expires_at serves the expiry cleanup; the rest serve lookups and cascades.
        for (const column of ['family_id', 'user_id', 'parent_id', 'client_id', 'expires_at']) {
          await db.schema.createIndex(`${p}tokens_${column}_idx`)
            .on(`${p}tokens`).column(column).execute()
        }
      })
    }
  }
}

/** Throttle counters of failed logins and sign-ups, keyed by an opaque hash. */
function throttles (p: string): Migration {
  return {
    async up (db: Kysely<any>): Promise<void> {
      await inTransaction(db, async (db) => {
        await db.schema.createTable(`${p}throttles`)
          .addColumn('key', 'text', (col) => col.primaryKey())
          .addColumn('hits', 'integer', (col) => col.notNull())
          .addColumn('reset_at', 'bigint', (col) => col.notNull())
          .execute()
        await db.schema.createIndex(`${p}throttles_reset_at_idx`).on(`${p}throttles`).column('reset_at').execute()
      })
    }
  }
}

/** How many times each refresh token has been exchanged, for the bounded reuse window. */
function refreshExchanges (p: string): Migration {
  return {
    async up (db: Kysely<any>): Promise<void> {
      await inTransaction(db, async (db) => {
        await db.schema.alterTable(`${p}tokens`)
          .addColumn('exchanges', 'integer', (col) => col.notNull().defaultTo(0))
          .execute()
        // A record rotated before this migration has been exchanged once.
        await db.updateTable(`${p}tokens`).set({ exchanges: 1 }).where('rotated_at', 'is not', null).execute()
      })
    }
  }
}

/** Users a migration reads at a time. */
const USER_BATCH = 1000

/**
 * Usernames become unique by Unicode case folding (`straße` = `STRASSE`): every key is recomputed, in
 * batches by id. A row whose new key another row already has keeps its old one (the two users stay
 * apart, and `UserDirectory` still finds it by its old key); nothing is deleted. The folding is written
 * out here as it was at this migration, frozen like the rest of it.
 */
function usernameCaseFold (p: string): Migration {
  const fold = (name: string): string =>
    name.normalize('NFKC').toUpperCase().toLowerCase().replaceAll('\u03C2', '\u03C3').normalize('NFKC')
  return {
    async up (db: Kysely<any>): Promise<void> {
      await inTransaction(db, async (db) => {
        let after = ''
        for (;;) {
          const rows: Array<{ id: string, username: string, username_key: string }> = await db.selectFrom(`${p}users`)
            .select(['id', 'username', 'username_key'])
            .where('id', '>', after)
            .orderBy('id')
            .limit(USER_BATCH)
            .execute()
          for (const row of rows) {
            const key = fold(row.username)
            if (key === row.username_key) continue
            const taken = await db.selectFrom(`${p}users`).select('id').where('username_key', '=', key).executeTakeFirst()
            if (taken === undefined) await db.updateTable(`${p}users`).set({ username_key: key }).where('id', '=', row.id).execute()
          }
          const last = rows.at(-1)
          if (last === undefined || rows.length < USER_BATCH) break
          after = last.id
        }
      })
    }
  }
}

/** Clients' redirection URIs and whether they ask for consent, for the authorization code grant. */
function clientRedirectUris (p: string): Migration {
  return {
    async up (db: Kysely<any>): Promise<void> {
      await inTransaction(db, async (db) => {
        await db.schema.alterTable(`${p}clients`)
          .addColumn('redirect_uris', 'text', (col) => col.notNull().defaultTo(''))
          .execute()
        await db.schema.alterTable(`${p}clients`)
          .addColumn('require_consent', 'integer', (col) => col.notNull().defaultTo(0))
          .execute()
      })
    }
  }
}

/** Authorization codes, by the hash of the code; deleted with their client. */
function authorizationCodes (p: string): Migration {
  return {
    async up (db: Kysely<any>): Promise<void> {
      await inTransaction(db, async (db) => {
        await db.schema.createTable(`${p}authorization_codes`)
          .addColumn('code_hash', 'text', (col) => col.primaryKey())
          .addColumn('client_id', 'text', (col) =>
            col.notNull().references(`${p}clients.id`).onDelete('cascade'))
          .addColumn('user_id', 'text', (col) => col.notNull())
          .addColumn('redirect_uri', 'text', (col) => col.notNull())
          .addColumn('scopes', 'text', (col) => col.notNull())
          .addColumn('code_challenge', 'text', (col) => col.notNull())
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .addColumn('expires_at', 'bigint', (col) => col.notNull())
          .addColumn('used_at', 'bigint')
          .addColumn('family_id', 'text')
          .execute()
        for (const column of ['client_id', 'expires_at']) {
          await db.schema.createIndex(`${p}authorization_codes_${column}_idx`)
            .on(`${p}authorization_codes`).column(column).execute()
        }
      })
    }
  }
}

/** Users' sessions at the authorization server, by the hash of the session id. */
function sessions (p: string): Migration {
  return {
    async up (db: Kysely<any>): Promise<void> {
      await inTransaction(db, async (db) => {
        await db.schema.createTable(`${p}sessions`)
          .addColumn('id_hash', 'text', (col) => col.primaryKey())
          .addColumn('user_id', 'text', (col) => col.notNull())
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .addColumn('expires_at', 'bigint', (col) => col.notNull())
          .execute()
        await db.schema.createIndex(`${p}sessions_expires_at_idx`).on(`${p}sessions`).column('expires_at').execute()
      })
    }
  }
}

/** Browser clients: their web origins, and whether their refresh token goes in an HttpOnly cookie. */
function clientOrigins (p: string): Migration {
  return {
    async up (db: Kysely<any>): Promise<void> {
      await inTransaction(db, async (db) => {
        await db.schema.alterTable(`${p}clients`)
          .addColumn('origins', 'text', (col) => col.notNull().defaultTo(''))
          .execute()
        await db.schema.alterTable(`${p}clients`)
          .addColumn('refresh_cookie', 'integer', (col) => col.notNull().defaultTo(0))
          .execute()
      })
    }
  }
}

/**
 * No query looks tokens up by `parent_id` any more (refresh reuse is one compare-and-swap on the record
 * itself): its index only cost every token write, rotation and expiry delete one more B-tree to update.
 */
function dropTokenParentIndex (p: string): Migration {
  return {
    async up (db: Kysely<any>): Promise<void> {
      await db.schema.dropIndex(`${p}tokens_parent_id_idx`).ifExists().execute()
    }
  }
}

/**
 * Every login writes its throttle counters four times (two counted, two taken back), each a commit of its
 * own; each commit writes every page it changed. On SQLite the table becomes `WITHOUT ROWID` (the key's
 * B-tree holds the row: one B-tree instead of the table's and its primary key's), and on both databases the
 * `reset_at` index goes: only the expiry cleanup reads that column, and the table holds the counters of the
 * current window only (an address that logged in, a username and address that failed), which the cleanup
 * scans in little time. A commit now changes one page where it changed three.
 */
function leanThrottles (p: string): Migration {
  return {
    async up (db: Kysely<any>): Promise<void> {
      await inTransaction(db, async (db) => {
        if (!(db.getExecutor().adapter instanceof SqliteAdapter)) {
          await db.schema.dropIndex(`${p}throttles_reset_at_idx`).ifExists().execute()
          return
        }
        const lean = `${p}throttles_0010`
        await sql`create table ${sql.table(lean)} (key text primary key, hits integer not null, reset_at bigint not null) without rowid`.execute(db)
        await sql`insert into ${sql.table(lean)} (key, hits, reset_at) select key, hits, reset_at from ${sql.table(`${p}throttles`)}`.execute(db)
        // Its index goes with it.
        await db.schema.dropTable(`${p}throttles`).execute()
        await db.schema.alterTable(lean).renameTo(`${p}throttles`).execute()
      })
    }
  }
}

/**
 * "Log out everywhere" (`deleteUserSessions`) deletes a user's sessions and unredeemed authorization codes:
 * an index on `user_id` of each, so that it reads that user's rows rather than every row.
 */
function userSessionsIndex (p: string): Migration {
  return {
    async up (db: Kysely<any>): Promise<void> {
      await inTransaction(db, async (db) => {
        for (const table of ['sessions', 'authorization_codes']) {
          await db.schema.createIndex(`${p}${table}_user_id_idx`).on(`${p}${table}`).column('user_id').execute()
        }
      })
    }
  }
}
