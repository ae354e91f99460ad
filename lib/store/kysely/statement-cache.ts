/**
 * Kysely's SQLite driver prepares every query it runs: SQLite parses and plans the SQL each time, although
 * the statement could be run again. At the token endpoint that was about a third of the time a login
 * spends in SQLite. This keeps the statements of the most recent SQL texts and hands out the same one
 * for the same text.
 *
 * Reusing a statement is safe under Kysely: its SQLite driver runs one query at a time on its one
 * connection (a mutex), and a statement is done with before the next query starts (a streamed select
 * holds the connection until its stream ends). SQLite prepares a statement again by itself when the
 * schema changes.
 */
import type { SqliteDatabase, SqliteStatement } from 'kysely'

/** SQL texts whose statements are kept: far more than the store's own queries. */
export const STATEMENT_CACHE_SIZE = 256

/**
 * `database` as Kysely's `SqliteDialect` sees it, with each SQL text prepared once. The `max` most
 * recently used statements are kept; an app's own queries through the same Kysely instance share them.
 */
export function cachingStatements (database: SqliteDatabase, max = STATEMENT_CACHE_SIZE): SqliteDatabase {
  /** By SQL text, least recently used first: a `Map` iterates in insertion order. */
  const statements = new Map<string, SqliteStatement>()
  return {
    prepare (sql: string): SqliteStatement {
      let statement = statements.get(sql)
      if (statement !== undefined) {
        statements.delete(sql)
      } else {
        statement = database.prepare(sql)
        if (statements.size >= max) statements.delete(statements.keys().next().value as string)
      }
      statements.set(sql, statement)
      return statement
    },
    close (): void {
      statements.clear()
      database.close()
    }
  }
}
