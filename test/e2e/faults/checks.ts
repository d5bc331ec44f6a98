import { readFileSync } from 'node:fs';
import pg from 'pg';
import { expect } from 'vitest';
import type { DroverCluster } from '../../harness/drover-cluster.js';

// What every fault test checks at its end: nothing stuck, nothing orphaned,
// no survivor crashed.

const FINAL = ['SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED'];

/**
 * docs/guarantees.md: a run whose TaskTracker falls silent ends within
 * Timing.INSTANCE_SILENT_MS + one sweep period, plus the sweep's own
 * statements and its timer's lateness (milliseconds; more on a loaded machine).
 */
export const SILENCE_BOUND_MS = 15_000 + 1_000 + 250;
/**
 * A test that sees the end by polling the API (every 50 ms, an HTTP round
 * trip each) sees it late by up to that, on a loaded machine more.
 */
export const POLL_SLACK_MS = 250;

export async function expectSettled(databaseUrl: string): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ id: string; status: string }>(
      'SELECT id, status FROM instances ORDER BY id',
    );
    expect(rows.filter((r) => !FINAL.includes(r.status))).toEqual([]);
    const orphans = await db.query(
      'SELECT l.id FROM instance_logs l LEFT JOIN instances i ON i.id = l.instance_id WHERE i.id IS NULL LIMIT 1',
    );
    expect(orphans.rows).toEqual([]);
  } finally {
    await db.end();
  }
}

/** Every process the test did not kill on purpose is still running. */
export function expectSurvivorsAlive(cluster: DroverCluster, killed: string[] = []): void {
  const alive = (p: { child: { exitCode: number | null; signalCode: string | null } }) =>
    p.child.exitCode === null && p.child.signalCode === null;
  if (!killed.includes('server')) expect(alive(cluster.server)).toBe(true);
  for (const [id, w] of cluster.workers) if (!killed.includes(id)) expect(alive(w), id).toBe(true);
}

/** Each run's id appears exactly once in `markersFile` (one line per execution, see the `counted` processor). */
export function expectExecutedOnce(markersFile: string, instanceIds: string[]): void {
  const lines = readFileSync(markersFile, 'utf8').split('\n').filter(Boolean);
  const counts = Object.fromEntries(instanceIds.map((id) => [id, 0]));
  for (const id of lines) counts[id] = (counts[id] ?? 0) + 1;
  expect(counts).toEqual(Object.fromEntries(instanceIds.map((id) => [id, 1])));
}
