import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorkflowRun } from '../../../packages/server/src/workflows/workflow-engine.js';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import {
  appIdOf,
  insertWorkflow,
  isFinal,
  node,
  nodeInstances,
  waitForRun,
} from '../../../packages/server/test/support/workflow-setup.js';
import { type DroverCluster, startDroverCluster } from '../../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../../harness/fixtures.js';
import { stopProcess } from '../../harness/process.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// kill -9 the server process between a workflow node's end and its
// successor's start: the node's end is committed (with its context update,
// as its final report would commit it) while no server runs, then a server
// starts. It starts the successor exactly once; the worker still running the
// ended node's TaskTracker is told to stop; the run completes.

const db = useDatabase();
let cluster: DroverCluster;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: ['sv-1'] });
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await cluster?.stop();
});

describe('kill -9 the server between a node end and its successor start', () => {
  it('the next server starts the successor once and the run completes', async () => {
    const { app } = cluster;
    const res = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('step'),
      processorName: 'workflow-step',
      timeExpressionType: 'API',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const step = res.body.id as string;
    const appId = await appIdOf(pool, app.name);
    const wf = await insertWorkflow(pool, appId, {
      name: uniqueName('wf'),
      nodes: [
        { id: 'a', kind: 'job', job: step, params: { ms: 600_000 } },
        { id: 'b', kind: 'job', job: step },
      ],
      edges: [{ from: 'a', to: 'b' }],
    });
    const { run } = await startWorkflowRun(pool, {
      app: { id: appId, name: app.name },
      workflow: wf,
      triggerType: 'API',
    });
    const atA = await waitForRun(pool, appId, run.id, (r) => node(r, 'a').instanceId !== null);
    const aId = node(atA, 'a').instanceId as string;
    await waitForInstance(app, aId, (i) => i.status === 'RUNNING', 30_000);

    await stopProcess(cluster.server, 'SIGKILL');
    // a's end commits as its final report would, and the server is gone before advancing.
    await pool.query(
      `UPDATE instances SET status = 'SUCCEEDED', finished_at = now(), result = '"done"',
         context_update = '{"a": "ended"}'
       WHERE id = $1`,
      [aId],
    );
    const stuck = await waitForRun(pool, appId, run.id, (r) => node(r, 'a').status === 'SUCCEEDED');
    expect(node(stuck, 'b')).toMatchObject({ status: 'PENDING', instanceId: null });

    await cluster.restartServer();
    const done = await waitForRun(pool, appId, run.id, isFinal, 60_000);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');
    expect(done.context).toEqual({ a: 'ended', b: { worker: 'sv-1', saw: ['a'] } });
    const instances = await nodeInstances(pool, run.id);
    expect(instances.map((i) => [i.node, i.attempt, i.status])).toEqual([
      ['a', 1, 'SUCCEEDED'],
      ['b', 1, 'SUCCEEDED'],
    ]);
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 120_000);
});
