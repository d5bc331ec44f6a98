/**
 * A FROM item of the rows of array parameters zipped together (`unnest`;
 * `ord`: a last column of each row's place, WITH ORDINALITY), for a named statement that
 * should be planned once per connection, not at every call.
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
  params: readonly string[],
  alias: string,
  columns: readonly string[],
  { ord = false }: { ord?: boolean } = {},
): string {
  const arrays = params.map((p, i) => `${p} AS a${i + 1}`).join(', ');
  const refs = params.map((_, i) => `arrays.a${i + 1}`).join(', ');
  const names = ord ? [...columns, 'ord'] : columns;
  return `(SELECT u.* FROM (SELECT ${arrays} OFFSET 0) arrays,
      unnest(${refs})${ord ? ' WITH ORDINALITY' : ''} AS u(${names.join(', ')})) AS ${alias}`;
}
