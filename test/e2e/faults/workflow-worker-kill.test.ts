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
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// kill -9 the worker process running a workflow node: the existing lost-worker
// path dispatches the node's instance again on another worker (same instance,
// no instance retry used), the workflow run completes, and every node ran to
// one final instance, its context update (set in a processor thread) merged.

const db = useDatabase();
let cluster: DroverCluster;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: ['wk-1', 'wk-2'] });
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await cluster?.stop();
});

describe('a workflow whose node loses its worker', () => {
  it('completes with each node run to one final instance', async () => {
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
        { id: 'a', kind: 'job', job: step },
        { id: 'b', kind: 'job', job: step, params: { ms: 8_000 } },
        { id: 'c', kind: 'job', job: step },
      ],
      edges: [
        { from: 'a', to: 'b' },
        { from: 'b', to: 'c' },
      ],
    });
    // The engine's run is created here; the server process is woken by its notification.
    const { run } = await startWorkflowRun(pool, {
      app: { id: appId, name: app.name },
      workflow: wf,
      triggerType: 'API',
    });
    const atB = await waitForRun(pool, appId, run.id, (r) => node(r, 'b').instanceId !== null);
    const bId = node(atB, 'b').instanceId as string;
    const running = await waitForInstance(app, bId, (i) => i.status === 'RUNNING', 30_000);
    const victim = running.workerId as string;
    cluster.workers.get(victim)?.child.kill('SIGKILL');

    const done = await waitForRun(pool, appId, run.id, isFinal, 90_000);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');
    const instances = await nodeInstances(pool, run.id);
    expect(instances.map((i) => [i.node, i.attempt, i.status])).toEqual([
      ['a', 1, 'SUCCEEDED'],
      ['b', 1, 'SUCCEEDED'],
      ['c', 1, 'SUCCEEDED'],
    ]);
    const b = await waitForInstance(app, bId, (i) => i.status === 'SUCCEEDED');
    expect(b.runAttempt).toBe(1); // re-dispatched, not retried
    expect(b.workerId).not.toBe(victim);
    expect(done.context).toEqual({
      a: { worker: expect.any(String), saw: [] },
      b: { worker: b.workerId, saw: ['a'] },
      c: { worker: expect.any(String), saw: ['a', 'b'] },
    });
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster, [victim]);
  }, 150_000);
});
