import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl, uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { basicProcessor, type DroverWorker, startWorker } from '../../worker/src/index.js';
import type { DroverServer } from '../src/index.js';
import { startWorkflowRun } from '../src/workflows/workflow-engine.js';
import { ApiClient } from './support/api-client.js';
import { createTestApp, startTestServer, type TestApp } from './support/server-fixture.js';
import {
  appIdOf,
  insertWorkflow,
  isFinal,
  node,
  nodeInstances,
  waitForRun,
} from './support/workflow-setup.js';

// Advancing is durable and idempotent: a node that ends while no server
// advances (the server died right after the node's end committed) leaves
// needs_advance, and the next server to run starts its successors, once;
// two servers advancing the same runs at once start each successor once.

const db = useDatabase();
const SWEEP_MS = 1_000;
let app: TestApp;
let appId: string;
let pool: pg.Pool;
let worker: DroverWorker | undefined;
const servers: DroverServer[] = [];

async function server(): Promise<DroverServer> {
  const s = await startTestServer(db.url, { sweepIntervalMs: SWEEP_MS });
  servers.push(s);
  await s.ready;
  return s;
}

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
});
afterAll(async () => {
  await worker?.stop();
  await Promise.all(servers.map((s) => s.stop()));
  await pool.end();
});

async function job(processorName: string): Promise<string> {
  const res = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    processorName,
    timeExpressionType: 'API',
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

describe('a node ended while no server advances', () => {
  it('has its successor started once by the next server, within the sweep bound', async () => {
    const first = await server();
    app = await createTestApp(first, uniqueName('app'));
    appId = await appIdOf(pool, app.name);
    const ok = await job('ok');
    const wf = await insertWorkflow(pool, appId, {
      name: uniqueName('wf'),
      nodes: [
        { id: 'a', kind: 'job', job: ok },
        { id: 'b', kind: 'job', job: ok },
      ],
      edges: [{ from: 'a', to: 'b' }],
    });
    const { run } = await startWorkflowRun(pool, {
      app: { id: appId, name: app.name },
      workflow: wf,
      triggerType: 'API',
    });
    // No worker yet: a waits for one.
    const started = await waitForRun(pool, appId, run.id, (r) => node(r, 'a').status === 'RUNNING');
    servers.splice(servers.indexOf(first), 1);
    await first.stop();
    // a ends as a worker's report would end it, with no server left to advance.
    const aId = node(started, 'a').instanceId as string;
    await pool.query(
      `UPDATE instances SET status = 'SUCCEEDED', finished_at = now(), context_update = '{"a": 1}'
       WHERE id = $1`,
      [aId],
    );
    const stuck = await waitForRun(pool, appId, run.id, (r) => node(r, 'a').status === 'SUCCEEDED');
    expect(node(stuck, 'b')).toMatchObject({ status: 'PENDING', instanceId: null });
    const { rows } = await pool.query('SELECT needs_advance FROM workflow_runs WHERE id = $1', [
      run.id,
    ]);
    expect(rows[0]).toEqual({ needs_advance: true });

    const t0 = Date.now();
    const next = await server();
    app.api = new ApiClient(next.url, app.secret);
    const moved = await waitForRun(pool, appId, run.id, (r) => node(r, 'b').status === 'RUNNING');
    // The documented bound: a run left with needs_advance advances within one sweep interval (+1 s).
    expect(Date.now() - t0).toBeLessThanOrEqual(SWEEP_MS + 1_000);
    expect(moved.context).toEqual({ a: 1 });
    worker = await startWorker({
      natsUrl: natsUrl(),
      insecureNats: true,
      app: app.name,
      workerId: uniqueName('wf'),
      processors: [basicProcessor({ name: 'ok', process: () => 'ok' })],
      log: testLogger('wf-worker'),
    });
    const done = await waitForRun(pool, appId, run.id, isFinal);
    expect(done.status).toBe('SUCCEEDED');
    const instances = await nodeInstances(pool, run.id);
    expect(instances.map((i) => i.node)).toEqual(['a', 'b']);
  });
});

describe('two servers advancing the same runs', () => {
  it('start each successor exactly once', async () => {
    await server(); // a second server next to the one above
    expect(servers.filter((s) => s.readiness().started).length).toBeGreaterThanOrEqual(2);
    const ok = await job('ok');
    const fanOut = Array.from({ length: 6 }, (_, i) => `n${i}`);
    const wf = await insertWorkflow(pool, appId, {
      name: uniqueName('wf'),
      maxConcurrentRuns: 0,
      nodes: [
        { id: 'root', kind: 'wait', delayMs: 0 },
        ...fanOut.map((id) => ({ id, kind: 'job', job: ok })),
      ],
      edges: fanOut.map((id) => ({ from: 'root', to: id })),
    });
    const runs = await Promise.all(
      Array.from({ length: 20 }, () =>
        startWorkflowRun(pool, {
          app: { id: appId, name: app.name },
          workflow: wf,
          triggerType: 'API',
        }),
      ),
    );
    for (const { run } of runs) {
      const done = await waitForRun(pool, appId, run.id, isFinal);
      expect(done.status).toBe('SUCCEEDED');
      const instances = await nodeInstances(pool, run.id);
      expect(instances.map((i) => i.node).sort()).toEqual(fanOut);
    }
  });
});
