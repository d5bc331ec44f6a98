import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import type { Queryable } from '../src/db/pool.js';
import { claimMany, finishMany, markAcceptedMany } from '../src/store/instance-transitions.js';
import { insertApp, insertJob } from './support/app-rows.js';

// The per-batch statements (claim, accept, final) find each of their rows by
// its id whatever the statistics say. Here 20,000 runs went through
// WAITING_WORKER_RECEIVE since the last vacuum, so the index of unfinished
// runs still holds an entry for each, and the statistics say almost no run is
// unfinished: a plan that picks the rows by status, or hashes a seq scan,
// reads every one of those entries or rows for a batch of 200.

const db = useDatabase();
let pool: pg.Pool;
let app: string;
let appId: string;
let jobId: string;
const BATCH = 200;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

/** Every way the plan reads `instances`: node type, index and its condition. */
function instanceScans(node: PlanNode, out: string[] = []): string[] {
  if (node['Relation Name'] === 'instances' && node['Node Type'] !== 'ModifyTable')
    out.push(`${node['Node Type']} ${node['Index Name'] ?? ''} ${node['Index Cond'] ?? ''}`);
  for (const child of node.Plans ?? []) instanceScans(child, out);
  return out;
}

/** Runs each statement as EXPLAIN ANALYZE in a transaction rolled back, keeping its plan. */
function explaining(plans: PlanNode[]): Queryable {
  return {
    query: async (q: string | { text: string; values?: unknown[] }, values?: unknown[]) => {
      const text = typeof q === 'string' ? q : q.text;
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
          typeof q === 'string' ? values : q.values,
        );
        const plan = rows[0]?.['QUERY PLAN'][0]?.Plan;
        if (!plan) throw new Error(`no plan for: ${text}`);
        plans.push(plan);
        return { rows: [] };
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    },
  } as unknown as Queryable;
}

async function runs(status: string, n: number): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO instances (app_id, job_id, status, trigger_type, epoch, worker_id, dispatched_at)
     SELECT $1, $2, $3, 'API', 1, 'w-1', now() FROM generate_series(1, $4) RETURNING id`,
    [appId, jobId, status, n],
  );
  return rows.map((r) => r.id);
}

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  ({ name: app, id: appId } = await insertApp(pool));
  jobId = await insertJob(pool, appId);
  await pool.query('ALTER TABLE instances SET (autovacuum_enabled = false)');
  await runs('WAITING_WORKER_RECEIVE', 20_000);
  await pool.query(`UPDATE instances SET status = 'SUCCEEDED', finished_at = now()`);
  await pool.query('ANALYZE instances');
}, 60_000);
afterAll(() => pool.end());

describe('batch statement plans', () => {
  it('reach each run of a batch by its id, never by its status or a scan of the table', async () => {
    const plans: PlanNode[] = [];
    const waiting = await runs('WAITING_DISPATCH', BATCH);
    await claimMany(
      explaining(plans),
      waiting.map((id) => ({ id, workerId: 'w-1', timeoutMs: 0 })),
    );
    const bound = await runs('WAITING_WORKER_RECEIVE', BATCH);
    await markAcceptedMany(
      explaining(plans),
      bound.map((id) => ({ id, epoch: 1 })),
    );
    await finishMany(
      explaining(plans),
      app,
      bound.map((id) => ({
        id,
        epoch: 1,
        status: 'SUCCEEDED' as const,
        progress: { total: 1, succeeded: 1, failed: 0, running: 0 },
      })),
    );
    expect(plans).toHaveLength(3);
    for (const plan of plans) {
      const scans = instanceScans(plan);
      expect(scans.length).toBeGreaterThan(0);
      // One probe per run: an index scan on the run's id (the pkey, or the
      // app's index on (app_id, id) with both columns).
      expect(scans.filter((s) => !/^Index Scan \S+ .*\bid = /.test(s))).toEqual([]);
    }
  });
});
