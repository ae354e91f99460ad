/**
 * Queries of `KyselyStore` built and compiled once, then run with new values: on every call Kysely
 * otherwise builds the query's tree, runs the table prefix plugin over it and compiles it to SQL, which on
 * SQLite costs more than the database's own part of a primary-key read, a token insert or a throttle
 * counter's upsert. For the queries of every login: the client, the user, the throttle's counters, the new
 * token.
 *
 * The compiled query runs through the same Kysely instance as every other query of the store (its
 * connection handling, transactions and SQLite statement cache), so nothing changes but the building.
 * Given the raw better-sqlite3 connection under that instance, it runs there instead, as a statement
 * prepared once, whenever nothing else holds the connection (see `precompiled`).
 */
import { sql, type Compilable, type Kysely, type RawBuilder } from 'kysely'
import type { SqliteHandle, SqliteStatement } from './bearer-lookup.js'

/** A value in a query compiled once: it stands for the value of that name at each call. */
export type Placeholder = any

/** A query compiled once, run with `values` (one per name): the rows it returns. */
export type Precompiled<Name extends string, Row> = (values: Readonly<Record<Name, unknown>>) => Promise<Row[]>

/**
 * A value compared with an indexed text column in a query compiled once: `cast(? as text)` rather than a
 * bare `?`, since with SQLite's STAT4 statistics (after ANALYZE or `PRAGMA optimize`) a bare parameter
 * compared with an indexed column makes SQLite prepare the statement again for every new value.
 */
export function asText (value: Placeholder): RawBuilder<string> {
  return sql<string>`cast(${value} as text)`
}

/**
 * The query `build` makes from one placeholder per name, compiled now. Each call binds the values of that
 * call where the placeholders were; any other parameter of the compiled SQL (a constant of the query)
 * keeps its value. Throws at once if a placeholder did not become a parameter (a value Kysely wrote into
 * the SQL text instead).
 *
 * With `sqlite`, the better-sqlite3 connection under `plainDb`, a call runs the statement on it directly
 * (prepared at the first call: the tables may not exist before `migrate()`), skipping Kysely's driver,
 * unless a transaction is open on the connection (the store's or the app's: Kysely's driver then makes the
 * call wait until it ends, as before) or the connection refuses the statement (a `TypeError`, as while an
 * app's streamed select holds it open: the call then waits the same way). better-sqlite3 runs a statement
 * synchronously, so nothing can come between its start and its end; errors of SQLite itself
 * (`SQLITE_BUSY` among them) are thrown as Kysely's driver throws them.
 */
export function precompiled<Name extends string, Row> (
  plainDb: Kysely<any>, names: readonly Name[], build: (placeholders: Readonly<Record<Name, Placeholder>>) => Compilable<Row>,
  sqlite?: SqliteHandle
): Precompiled<Name, Row> {
  // Distinct strings no caller's value is compared with: each tells which name a parameter stands for.
  const placeholders = Object.fromEntries(names.map((name) => [name, `\u0000${name}\u0000`])) as Record<Name, string>
  const byPlaceholder = new Map<unknown, Name>(names.map((name) => [placeholders[name], name]))
  const compiled = build(placeholders).compile()
  const slots = compiled.parameters.map((value) => ({ name: byPlaceholder.get(value), value }))
  const missing = names.filter((name) => !slots.some((slot) => slot.name === name))
  if (missing.length > 0) {
    throw new Error(`precompiled: ${missing.join(', ')} did not become parameters of ${compiled.sql}`)
  }
  let statement: SqliteStatement | undefined
  return async (values) => {
    const parameters = slots.map((slot) => slot.name === undefined ? slot.value : values[slot.name])
    if (sqlite !== undefined && !sqlite.inTransaction) {
      try {
        statement ??= sqlite.prepare(compiled.sql)
        if (statement.reader) return statement.all(parameters) as Row[]
        statement.run(parameters)
        return []
      } catch (err) {
        if (!(err instanceof TypeError)) throw err
      }
    }
    return (await plainDb.executeQuery<Row>({ ...compiled, parameters })).rows
  }
}
