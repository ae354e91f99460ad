/**
 * Queries of `KyselyStore` built and compiled once, then run with new values: on every call Kysely
 * otherwise builds the query's tree, runs the table prefix plugin over it and compiles it to SQL, which on
 * SQLite costs more than the database's own part of a primary-key read or a token insert. For the queries
 * of every login: the client, the user, the new token.
 *
 * The compiled query runs through the same Kysely instance as every other query of the store (its
 * connection handling, transactions and SQLite statement cache), so nothing changes but the building.
 */
import { sql, type Compilable, type CompiledQuery, type Kysely } from 'kysely'

/** A compiled query run with `parameters` in the order its SQL takes them. */
export type Precompiled<Row> = (parameters: readonly unknown[]) => Promise<Row[]>

/**
 * A parameter in a query compiled once: `cast(? as text)` rather than a bare `?`, as the bearer lookup
 * does, since with SQLite's STAT4 statistics a bare parameter compared with an indexed column makes SQLite
 * prepare the statement again for every new value.
 */
export function textParameter (): ReturnType<typeof sql<string>> {
  return sql<string>`cast(${''} as text)`
}

/** `query` compiled now; throws if it does not take exactly `parameterCount` parameters. */
export function precompiled<Row> (plainDb: Kysely<any>, query: Compilable<Row>, parameterCount: number): Precompiled<Row> {
  const compiled: CompiledQuery<Row> = query.compile()
  if (compiled.parameters.length !== parameterCount) {
    throw new Error(`precompiled: the query takes ${compiled.parameters.length} parameters, not ${parameterCount}: ${compiled.sql}`)
  }
  return async (parameters) => (await plainDb.executeQuery<Row>({ ...compiled, parameters })).rows
}

/**
 * An insert of rows with the columns `columns`, compiled once (`build` makes it from a row); the returned
 * function inserts a row, binding its values in the order the compiled SQL takes them. Checked at once:
 * the compiled SQL must take one parameter per column, in the order given.
 */
export function precompiledInsert<Row extends object> (
  plainDb: Kysely<any>, columns: ReadonlyArray<keyof Row & string>, build: (row: Row) => Compilable<unknown>
): (row: Row) => Promise<void> {
  // Distinct values, so that the check below tells every column's place.
  const sample = Object.fromEntries(columns.map((column) => [column, `\u0000${column}`])) as Row
  const compiled = build(sample).compile()
  const inOrder = compiled.parameters.length === columns.length &&
    compiled.parameters.every((value, i) => value === sample[columns[i] as keyof Row])
  if (!inOrder) throw new Error(`precompiledInsert: the insert does not take its columns in order: ${compiled.sql}`)
  return async (row) => {
    await plainDb.executeQuery({ ...compiled, parameters: columns.map((column) => row[column]) })
  }
}
