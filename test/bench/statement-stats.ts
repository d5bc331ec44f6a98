import type pg from 'pg';
import { round } from './stats.js';

// BENCH_STATEMENTS=1: each measured phase also reports the statements
// Postgres spent its time on (pg_stat_statements: calls, execution and
// planning ms), to say where a run's database time goes.

export const statementStatsOn = () => process.env.BENCH_STATEMENTS === '1';

/** Starts counting anew (no-op unless BENCH_STATEMENTS=1). */
export async function resetStatementStats(sql: pg.Client): Promise<void> {
  if (!statementStatsOn()) return;
  await sql.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await sql.query('SELECT pg_stat_statements_reset()');
}

/** The statements run since the reset, most time first (undefined unless BENCH_STATEMENTS=1). */
export async function statementStats(sql: pg.Client, limit = 8) {
  if (!statementStatsOn()) return undefined;
  const { rows } = await sql.query<{ calls: string; exec: number; plan: number; query: string }>(
    `SELECT calls, total_exec_time AS exec, total_plan_time AS plan,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query
     FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'
     ORDER BY total_exec_time + total_plan_time DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    calls: Number(r.calls),
    execMs: round(r.exec, 1),
    planMs: round(r.plan, 1),
    query: r.query,
  }));
}
