import { type ArrayElement, pgArray } from './pg-array.js';

/** A batch statement's input columns, in parameter order: each its SQL type and its value for a row. */
export type BatchColumns<T> = Record<
  string,
  readonly [type: string, value: (row: T) => ArrayElement]
>;

/**
 * A FROM item of a batch's rows: one array parameter per column (numbered
 * from `first`, in the columns' order) zipped together by `unnest`; with
 * `ord`, a last column of each row's place (WITH ORDINALITY). For a named
 * statement that should be planned once per connection, not at every call.
 *
 * Postgres plans a prepared statement anew at each call (a custom plan)
 * unless a plan made without the parameters' values (the generic plan) is
 * estimated no dearer than the custom ones. Given the arrays themselves,
 * `unnest` estimates its rows from their lengths: a call with one row is
 * estimated far cheaper than the generic plan (10 rows), so every call was
 * planned again (~0.2-0.5 ms of Postgres CPU, on the pickup path). Read
 * through a subquery kept apart (OFFSET 0), the arrays are opaque to both
 * plans: their estimates match and the generic plan is kept.
 */
export function unnestParams(
  columns: BatchColumns<never>,
  alias: string,
  { first = 1, ord = false }: { first?: number; ord?: boolean } = {},
): string {
  const names = Object.keys(columns);
  const arrays = Object.entries(columns)
    .map(([name, [type]], i) => `$${first + i}::${type}[] AS ${name}`)
    .join(', ');
  const refs = names.map((name) => `arrays.${name}`).join(', ');
  const output = ord ? [...names, 'ord'] : names;
  return `(SELECT u.* FROM (SELECT ${arrays} OFFSET 0) arrays,
      unnest(${refs})${ord ? ' WITH ORDINALITY' : ''} AS u(${output.join(', ')})) AS ${alias}`;
}

/** The batch's parameters for `unnestParams`: one array per column, in the columns' order. */
export function columnValues<T>(columns: BatchColumns<T>, rows: readonly T[]): string[] {
  return Object.values(columns).map(([, value]) => pgArray(rows.map(value)));
}
