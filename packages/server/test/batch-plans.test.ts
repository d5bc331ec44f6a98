import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import type { Queryable } from '../src/db/pool.js';
import { InstanceInserter } from '../src/store/instance-inserter.js';
import { claimMany, finishMany, markAcceptedMany } from '../src/store/instance-transitions.js';
import { insertApp, insertJob, insertRuns } from './support/app-rows.js';

// The per-batch statements (claim, accept, final) find each of their rows by
// its id, once, whatever the statistics say and whether planned for their
// values or once for any. Here 20,000 runs went through
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
  'Actual Loops'?: number;
  'Rows Removed by Join Filter'?: number;
  Plans?: PlanNode[];
}

/** Every way the plan reads `instances`: node type, index and its condition. */
function instanceScans(node: PlanNode, out: string[] = []): string[] {
  if (node['Relation Name'] === 'instances' && node['Node Type'] !== 'ModifyTable')
    out.push(`${node['Node Type']} ${node['Index Name'] ?? ''} ${node['Index Cond'] ?? ''}`);
  for (const child of node.Plans ?? []) instanceScans(child, out);
  return out;
}

/** Every way the plan reads `jobs`. */
function jobScans(node: PlanNode, out: string[] = []): string[] {
  if (node['Relation Name'] === 'jobs')
    out.push(`${node['Node Type']} ${node['Index Name'] ?? ''}`);
  for (const child of node.Plans ?? []) jobScans(child, out);
  return out;
}

/** What the plan did more than once per run: a second scan of its input, rows a join threw away. */
function repeatedWork(node: PlanNode, out: string[] = []): string[] {
  if (node['Node Type'] === 'Function Scan' && (node['Actual Loops'] ?? 1) > 1)
    out.push(`Function Scan run ${node['Actual Loops']} times`);
  if ((node['Rows Removed by Join Filter'] ?? 0) > BATCH)
    out.push(`${node['Node Type']} threw away ${node['Rows Removed by Join Filter']} rows`);
  for (const child of node.Plans ?? []) repeatedWork(child, out);
  return out;
}

/** A bind value as Postgres text: an array as an array literal, its elements quoted. */
function literal(value: unknown): string {
  if (!Array.isArray(value)) return String(value);
  const element = (e: unknown) =>
    e === null || e === undefined ? 'NULL' : `"${String(e).replace(/["\\]/g, '\\$&')}"`;
  return `{${value.map(element).join(',')}}`;
}

/**
 * Runs each statement as EXPLAIN ANALYZE of a prepared statement, in a
 * transaction rolled back, keeping its plan: planned for its values
 * (`force_custom_plan`), or once for any (`force_generic_plan`, the plan a
 * server's named statement runs after its fifth call).
 */
function explaining(
  plans: PlanNode[],
  mode: 'force_custom_plan' | 'force_generic_plan',
  /** Then runs it for real, answering its rows (a caller that reads them). */
  andRun = false,
): Queryable {
  return {
    query: async (q: string | { text: string; values?: unknown[] }, values?: unknown[]) => {
      const text = typeof q === 'string' ? q : q.text;
      const args = (typeof q === 'string' ? values : q.values) ?? [];
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`SET LOCAL plan_cache_mode = ${mode}`);
        await client.query(`PREPARE batch_plan AS ${text}`);
        // EXECUTE takes no bind parameters: its values go as literals.
        const literals = args.map((v) => client.escapeLiteral(literal(v)));
        const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
          `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE batch_plan(${literals.join(', ')})`,
        );
        const plan = rows[0]?.['QUERY PLAN'][0]?.Plan;
        if (!plan) throw new Error(`no plan for: ${text}`);
        plans.push(plan);
      } finally {
        await client.query('ROLLBACK');
        await client.query('DEALLOCATE ALL');
        client.release();
      }
      return andRun ? pool.query(text, args) : { rows: [] };
    },
  } as unknown as Queryable;
}

const runs = (status: string, n: number) => insertRuns(pool, appId, jobId, status, n);

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  ({ name: app, id: appId } = await insertApp(pool));
  jobId = await insertJob(pool, appId);
  await pool.query('ALTER TABLE instances SET (autovacuum_enabled = false)');
  await runs('WAITING_WORKER_RECEIVE', 20_000);
  await pool.query(`UPDATE instances SET status = 'SUCCEEDED', finished_at = now()`);
  // An app with many jobs: a plan may hash the whole table to check one run's job version.
  await pool.query(
    `INSERT INTO jobs (app_id, name, spec, time_expression_type)
     SELECT $1, 'other-' || n, '{}', 'API' FROM generate_series(1, 1000) n`,
    [appId],
  );
  await pool.query('ANALYZE instances');
  await pool.query('ANALYZE jobs');
}, 60_000);
afterAll(() => pool.end());

describe('batch statement plans', () => {
  it.each(['force_custom_plan', 'force_generic_plan'] as const)(
    'reach each run of a batch once, by its id (%s)',
    async (mode) => {
      const plans: PlanNode[] = [];
      const waiting = await runs('WAITING_DISPATCH', BATCH);
      await claimMany(
        explaining(plans, mode),
        waiting.map((id) => ({ id, workerId: 'w-1', timeoutMs: 0 })),
      );
      const bound = await runs('WAITING_WORKER_RECEIVE', BATCH);
      await markAcceptedMany(
        explaining(plans, mode),
        bound.map((id) => ({ id, epoch: 1 })),
      );
      await finishMany(
        explaining(plans, mode),
        app,
        bound.map((id) => ({
          id,
          epoch: 1,
          status: 'SUCCEEDED' as const,
          progress: { total: 1, succeeded: 1, failed: 0, running: 0 },
        })),
      );
      expect(plans).toHaveLength(3);
      // The insert reads no run by status; it joins its input to the rows it
      // wrote once, and checks the job's version by its key, not a scan of every job.
      const { rows: version } = await pool.query<{ version: string }>(
        'SELECT version::text FROM jobs WHERE id = $1',
        [jobId],
      );
      const jobVersion = version[0]?.version as string;
      const inserted = await new InstanceInserter(explaining(plans, mode, true)).insert(
        Array.from({ length: BATCH }, () => ({ appId, jobId, triggerType: 'API', jobVersion })),
      );
      expect(inserted.filter((i) => i.created)).toHaveLength(BATCH);
      const insertPlan = plans.pop() as PlanNode;
      expect(repeatedWork(insertPlan)).toEqual([]);
      expect(jobScans(insertPlan).filter((scan) => !scan.startsWith('Index'))).toEqual([]);
      for (const plan of plans) {
        const scans = instanceScans(plan);
        expect(scans.length).toBeGreaterThan(0);
        // One probe per run: an index scan on the run's id (the pkey, or the
        // app's index on (app_id, id) with both columns).
        expect(scans.filter((s) => !/^Index Scan \S+ .*\bid = /.test(s))).toEqual([]);
        expect(repeatedWork(plan)).toEqual([]);
      }
    },
  );
});

describe('named batch statements', () => {
  it('are planned once per connection, not again at every call', async () => {
    // Postgres keeps a prepared statement's generic plan only once it is
    // estimated no dearer than the plans made for each call's values; a call
    // of one run made every plan look cheaper, and each call was planned anew.
    // One connection: a statement is prepared, and its plans kept, per connection.
    const client = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const inserter = new InstanceInserter(client);
      for (let call = 0; call < 8; call++) {
        const [added] = await inserter.insert([{ appId, jobId, triggerType: 'API' }]);
        const id = added?.instance.id as string;
        const epoch = (await claimMany(client, [{ id, workerId: 'w-1', timeoutMs: 0 }])).get(id);
        expect(epoch).toBe(1);
        expect(await markAcceptedMany(client, [{ id, epoch: 1 }])).toHaveLength(1);
        expect(await finishMany(client, app, [{ id, epoch: 1, status: 'SUCCEEDED' }])).toHaveLength(
          1,
        );
      }
      const { rows } = await client.query<{ name: string; generic: boolean }>(
        `SELECT name, generic_plans > 0 AS generic FROM pg_prepared_statements
         WHERE name LIKE 'drover.%' ORDER BY name`,
      );
      expect(rows).toEqual([
        { name: 'drover.accept-instances', generic: true },
        { name: 'drover.claim-instances', generic: true },
        { name: 'drover.finish-instances', generic: true },
        { name: 'drover.insert-instances', generic: true },
      ]);
    } finally {
      await client.end();
    }
  });
});
