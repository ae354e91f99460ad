/**
 * The migrations of `KyselyStore`, supplied in code. A migration is frozen once released: it names its
 * tables and columns literally (never through the evolving table types) and later changes get a new
 * migration. Every name carries the store's table prefix, and the Kysely migrator records them in the
 * store's own tables (`{prefix}migrations`, `{prefix}migrations_lock`), apart from the app's migrations.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely'

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
      '0002_throttles': throttles(this.#tablePrefix)
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
