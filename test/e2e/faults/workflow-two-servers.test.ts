import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../../packages/server/test/support/api-client.js';
import {
  type ClusterServer,
  type DroverCluster,
  startDroverCluster,
} from '../../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../../harness/fixtures.js';
import { stopProcess } from '../../harness/process.js';
import { expectExecutedOnce, expectSettled, expectSurvivorsAlive } from './checks.js';

// Two drover-server processes on one database and one NATS, both driven
// through their HTTP APIs. Guards:
// - a workflow node is started once however many servers advance its run
//   (the run's row lock in advance-run.ts, and the unique instance per node
//   attempt): every node of every run has exactly one instance, executed once;
//   with one server killed -9 midway too;
// - a CRON workflow's slot is fired once however many servers claim it (the
//   claim's advisory lock and the run's unique slot), and no slot is skipped
//   (the claim moves the workflow's next slot on);
// - slots missed while every server was down collapse into one catch-up run
//   (this needs the claim to move the workflow's next slot on: it did not, its
//   "not edited meanwhile" check comparing updated_at to the millisecond).

const db = useDatabase();
const dir = mkdtempSync(join(tmpdir(), 'drover-wf-two-servers-'));
let cluster: DroverCluster;
let second: ClusterServer;
/** The other server of the CRON tests (`second` was killed). */
let other: ClusterServer;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: ['two-1', 'two-2'] });
  second = await cluster.startServer();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const FINAL = ['SUCCEEDED', 'FAILED', 'STOPPED'];

interface RunView {
  id: string;
  status: string;
  triggerType: string;
  expectedTriggerAt: number | null;
  createdAt: number;
}

// Slots missed by more than this (every server down) collapse into one run (docs/server.md).
const MISFIRE_MS = 5_000;

/** A job only workflows run, with the `counted` processor (one marker line per execution). */
async function countedJob(api: ApiClient, app: string): Promise<string> {
  const res = await api.post(`/api/v1/apps/${app}/jobs`, {
    name: uniqueName('counted'),
    processorName: 'counted',
    timeExpressionType: 'WORKFLOW',
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

/** A workflow of one `counted` node firing every second (CRON, seconds field). */
async function everySecond(api: ApiClient, app: string, job: string): Promise<string> {
  const created = await api.post(`/api/v1/apps/${app}/workflows`, {
    name: uniqueName('tick'),
    schedule: { type: 'CRON', expression: '* * * * * *' },
    maxConcurrentRuns: 0,
    nodes: [{ id: 'only', kind: 'job', job, params: { ms: 0, markers: join(dir, 'tick') } }],
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id as string;
}

/** The workflow's runs, through the API (newest first, one page of up to 1,000). */
async function runsOf(api: ApiClient, app: string, workflowId: string): Promise<RunView[]> {
  const res = await api.get(
    `/api/v1/apps/${app}/workflow-runs?workflowId=${workflowId}&limit=1000`,
  );
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.runs as RunView[];
}

/** Waits until every run of the workflow is final, and answers them. */
async function untilAllFinal(api: ApiClient, app: string, workflowId: string, timeoutMs: number) {
  await expect
    .poll(
      async () => (await runsOf(api, app, workflowId)).filter((r) => !FINAL.includes(r.status)),
      {
        timeout: timeoutMs,
        interval: 200,
      },
    )
    .toEqual([]);
  return runsOf(api, app, workflowId);
}

/** Disables the CRON workflow; its runs once all are final, each a SUCCEEDED CRON run. */
async function disableAndSettle(api: ApiClient, app: string, workflowId: string) {
  const disabled = await api.post(`/api/v1/apps/${app}/workflows/${workflowId}/disable`);
  expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
  const runs = await untilAllFinal(api, app, workflowId, 60_000);
  for (const run of runs)
    expect(run, JSON.stringify(run)).toMatchObject({ status: 'SUCCEEDED', triggerType: 'CRON' });
  return runs;
}

describe('two servers on one database', () => {
  it('start each node of 20 concurrent fan-out/fan-in runs once, one server killed -9 midway', async () => {
    const { app } = cluster;
    const markers = join(dir, 'fan');
    const job = await countedJob(app.api, app.name);
    const step = (id: string) => ({ id, kind: 'job', job, params: { ms: 100, markers } });
    const created = await app.api.post(`/api/v1/apps/${app.name}/workflows`, {
      name: uniqueName('fan'),
      maxConcurrentRuns: 0,
      nodes: ['a', 'b', 'c', 'd', 'e'].map(step),
      edges: [
        { from: 'a', to: 'b' },
        { from: 'a', to: 'c' },
        { from: 'a', to: 'd' },
        { from: 'b', to: 'e' },
        { from: 'c', to: 'e' },
        { from: 'd', to: 'e' },
      ],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const workflowId = created.body.id as string;

    // Half the runs through each server's API, all at once.
    const apis = [app.api, second.api];
    const started = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (apis[i % 2] as ApiClient).post(`/api/v1/apps/${app.name}/workflows/${workflowId}/run`, {}),
      ),
    );
    for (const res of started) expect(res.status, JSON.stringify(res.body)).toBe(202);

    // Midway: once a run's first node has ended (its successors under way), the
    // second server dies.
    const first = started[0]?.body.id as string;
    await expect
      .poll(
        async () => {
          const run = await app.api.get(`/api/v1/apps/${app.name}/workflow-runs/${first}`);
          const nodes = run.body.nodes as { nodeId: string; status: string }[];
          return nodes.find((n) => n.nodeId === 'a')?.status;
        },
        { timeout: 60_000, interval: 50 },
      )
      .toBe('SUCCEEDED');
    await stopProcess(second.process, 'SIGKILL');

    const runs = await untilAllFinal(app.api, app.name, workflowId, 90_000);
    expect(runs).toHaveLength(20);
    for (const run of runs) expect(run.status, JSON.stringify(run)).toBe('SUCCEEDED');

    // Every node of every run: exactly one instance (whatever its attempt), the node's own.
    const { rows } = await pool.query<{ run: string; node: string; n: number; linked: string }>(
      `SELECT r.id AS run, wn.node_id AS node, count(i.id)::int AS n,
              string_agg((i.id = wn.instance_id)::text, ',') AS linked
       FROM workflow_runs r JOIN workflow_run_nodes wn ON wn.run_id = r.id
       LEFT JOIN instances i ON i.workflow_run_id = r.id AND i.workflow_node_id = wn.node_id
       WHERE r.workflow_id = $1 GROUP BY r.id, wn.node_id ORDER BY r.id, wn.node_id`,
      [workflowId],
    );
    expect(rows).toHaveLength(100);
    expect(rows.filter((r) => r.n !== 1 || r.linked !== 'true')).toEqual([]);
    // And each of those instances executed once (one marker line each).
    const { rows: instances } = await pool.query<{ id: string }>(
      'SELECT i.id FROM instances i JOIN workflow_runs r ON r.id = i.workflow_run_id WHERE r.workflow_id = $1',
      [workflowId],
    );
    expectExecutedOnce(
      markers,
      instances.map((i) => i.id),
    );
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 180_000);

  it('fire a CRON workflow once per slot, skipping none', async () => {
    const { app } = cluster;
    other = await cluster.startServer();
    const job = await countedJob(other.api, app.name);
    const workflowId = await everySecond(other.api, app.name, job);

    // Enabled for about 5 s (5 slots fired), then disabled through the other server.
    await expect
      .poll(async () => (await runsOf(other.api, app.name, workflowId)).length, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(5);
    const runs = await disableAndSettle(app.api, app.name, workflowId);
    const slots = runs.map((r) => r.expectedTriggerAt as number).sort((x, y) => x - y);
    expect(slots.length).toBeGreaterThanOrEqual(5);
    expect(slots.every((s) => Number.isInteger(s) && s % 1_000 === 0)).toBe(true);
    expect(new Set(slots).size).toBe(slots.length); // no slot fired twice
    const gaps = slots.slice(1).map((s, i) => s - (slots[i] as number));
    expect(gaps.filter((g) => g !== 1_000)).toEqual([]); // no slot between first and last skipped
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 120_000);

  it('collapse the slots missed while every server was down into one catch-up run', async () => {
    const { app } = cluster;
    const job = await countedJob(app.api, app.name);
    other ??= await cluster.startServer(); // (when run alone)
    const workflowId = await everySecond(other.api, app.name, job);
    await expect
      .poll(async () => (await runsOf(app.api, app.name, workflowId)).length, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(2);
    // Every server dies between two claims (the last one committed, moving the
    // next slot past every run's, the next one not due for 300 ms), and stays
    // down past the misfire window, so the slots held meanwhile are missed.
    await expect
      .poll(
        async () => {
          const { rows } = await pool.query<{ moved: boolean; ahead: number }>(
            `SELECT next_trigger_at > (SELECT max(expected_trigger_at) FROM workflow_runs
                                       WHERE workflow_id = $1) AS moved,
                    extract(epoch FROM next_trigger_at - now()) * 1000 AS ahead
             FROM workflows WHERE id = $1`,
            [workflowId],
          );
          return rows[0]?.moved === true && Number(rows[0].ahead) > 300;
        },
        { timeout: 10_000, interval: 50, message: 'a claim moves the next slot on' },
      )
      .toBe(true);
    await Promise.all(
      [cluster.server, second.process, other.process].map((p) => stopProcess(p, 'SIGKILL')),
    );
    await new Promise((r) => setTimeout(r, MISFIRE_MS + 3_000));
    await cluster.restartServer();
    const { rows } = await pool.query<{ now: Date }>('SELECT now()');
    const back = (rows[0] as { now: Date }).now.getTime();
    // Back for 2 s: its slots fire again.
    await expect
      .poll(
        async () =>
          (await runsOf(app.api, app.name, workflowId)).some(
            (r) => (r.expectedTriggerAt ?? 0) >= back + 2_000,
          ),
        { timeout: 30_000 },
      )
      .toBe(true);
    const runs = await disableAndSettle(app.api, app.name, workflowId);
    runs.sort((x, y) => (x.expectedTriggerAt as number) - (y.expectedTriggerAt as number));
    const slots = runs.map((r) => r.expectedTriggerAt as number);
    expect(new Set(slots).size).toBe(slots.length);
    // One run started long after its slot (8 s and the restart; a slot of the
    // misfire window, under 5 s and the claim): the first slot missed, standing for
    // all those older than the window; every other slot has its own run.
    const late = runs.flatMap((r, i) =>
      r.createdAt - (r.expectedTriggerAt as number) > MISFIRE_MS + 1_500 ? [i] : [],
    );
    expect(late, JSON.stringify(runs)).toHaveLength(1);
    const k = late[0] as number;
    const gaps = slots.slice(1).map((s, i) => s - (slots[i] as number));
    expect(gaps[k - 1], 'the catch-up is the slot after the last one fired').toBe(1_000);
    expect(gaps[k], 'older missed slots collapse into it').toBeGreaterThan(1_000);
    expect(gaps.filter((g, i) => i !== k && g !== 1_000)).toEqual([]);
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 120_000);
});
