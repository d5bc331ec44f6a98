import pg from 'pg';
import { stdSerializers } from 'pino';

// A Postgres error's `detail`, `where`, `hint` and query text can echo the
// data of the statement (a key's value, a row): a log line keeps what names
// the problem (the SQLSTATE code, the table and constraint) and drops those.

const KEPT = ['code', 'severity', 'schema', 'table', 'column', 'dataType', 'constraint'] as const;

/** The pino `err` serializer of the server: Postgres errors reduced to their names. */
export function errForLog(err: unknown): unknown {
  if (!(err instanceof pg.DatabaseError)) return stdSerializers.err(err as Error);
  const kept: Record<string, unknown> = {
    type: 'DatabaseError',
    message: `Postgres error ${err.code ?? 'unknown'}`,
  };
  for (const key of KEPT) if (err[key] !== undefined) kept[key] = err[key];
  return kept;
}
