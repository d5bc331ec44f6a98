import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isFinalRun,
  type WorkflowRunDetailView,
} from '../../packages/server/src/workflows/store/workflow-runs.js';
import { waitForWorkflowRun } from '../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';

// Workflows on real binaries (one drover-server, two drover-workers running
// test/fixtures/processors.ts), driven only through the HTTP API: a diamond
// with a map-reduce node and a decision, a failed node retried in place, and
// a nested workflow whose context merges back. Each job node has a job of its
// own, so the instances the API lists for that job are the node's instances.

type Run = WorkflowRunDetailView;
type Node = Run['nodes'][number];

const db = useDatabase();
let cluster: DroverCluster;
let dir: string;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: ['wf-e2e-1', 'wf-e2e-2'] });
  dir = await mkdtemp(join(tmpdir(), 'drover-e2e-workflows-'));
});
afterAll(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const base = () => `/api/v1/apps/${cluster.app.name}`;
const isFinal = (r: Run) => isFinalRun(r.status);

/** A job that runs only inside workflows, with its own name: its id. */
async function job(processorName: string, spec: Record<string, unknown> = {}): Promise<string> {
  const res = await cluster.app.api.post(`${base()}/jobs`, {
    name: uniqueName('job'),
    processorName,
    timeExpressionType: 'WORKFLOW',
    ...spec,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

/** Creates a workflow through the API: its id. */
async function workflow(spec: Record<string, unknown>): Promise<string> {
  const res = await cluster.app.api.post(`${base()}/workflows`, {
    name: uniqueName('wf'),
    ...spec,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

/** Runs a workflow now: the new run's id. */
async function run(workflowId: string, initParams?: unknown): Promise<string> {
  const res = await cluster.app.api.post(`${base()}/workflows/${workflowId}/run`, { initParams });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

/** The instances of a job, oldest first, as the API lists them. */
async function instancesOf(
  jobId: string,
): Promise<{ id: string; status: string; triggerType: string }[]> {
  const res = await cluster.app.api.get(`${base()}/instances?jobId=${jobId}&limit=100`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return [...res.body.instances].reverse();
}

function node(r: Run, id: string): Node {
  const n = r.nodes.find((x) => x.nodeId === id);
  if (!n) throw new Error(`run ${r.id} has no node ${id}: ${JSON.stringify(r)}`);
  return n;
}

/** What `workflow-step` adds for its node: the worker it ran on and the context keys it saw. */
const step = (saw: string[]) => ({ worker: expect.stringMatching(/^wf-e2e-[12]$/), saw });

describe('workflows on real server and worker processes', { timeout: 60_000 }, () => {
  // Guards: job nodes run on real workers and their context additions (a
  // standalone processor's, and a map-reduce's reduce) merge into the run;
  // a node starts only after all its predecessors (e saw a, b and c); the
  // decision reads the merged context and only its true branch runs; each
  // node runs to exactly one instance, the skipped one to none.
  it('runs a diamond with a map-reduce node and a decision: one branch, one instance per node', async () => {
    const jobs = {
      a: await job('workflow-step'),
      b: await job('workflow-sum', { executeType: 'MAP_REDUCE' }),
      c: await job('workflow-step'),
      e: await job('workflow-step'),
      f: await job('workflow-step'),
    };
    const id = await workflow({
      nodes: [
        { id: 'a', kind: 'job', job: jobs.a },
        { id: 'b', kind: 'job', job: jobs.b, params: { count: 10 } },
        { id: 'c', kind: 'job', job: jobs.c },
        { id: 'd', kind: 'decision', expression: 'context.b > 50.0' },
        { id: 'e', kind: 'job', job: jobs.e },
        { id: 'f', kind: 'job', job: jobs.f },
      ],
      edges: [
        { from: 'a', to: 'b' },
        { from: 'a', to: 'c' },
        { from: 'b', to: 'd' },
        { from: 'c', to: 'd' },
        { from: 'd', to: 'e', when: true },
        { from: 'd', to: 'f', when: false },
      ],
    });
    const runId = await run(id, { batch: 'b1' });

    const done = await waitForWorkflowRun(cluster.app, runId, isFinal);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');
    // b's reduce summed 1..10; e ran after a, b and c had merged their keys.
    expect(done.context).toEqual({
      batch: 'b1',
      a: step(['batch']),
      b: 55,
      c: step(['a', 'batch']),
      e: step(['a', 'b', 'batch', 'c']),
    });
    expect(node(done, 'd')).toMatchObject({ status: 'SUCCEEDED', result: true });
    expect(node(done, 'e').status).toBe('SUCCEEDED');
    expect(node(done, 'f')).toMatchObject({ status: 'SKIPPED', instanceId: null });
    expect(node(done, 'b').result).toBe(55);

    for (const nodeId of ['a', 'b', 'c', 'e'] as const) {
      const instances = await instancesOf(jobs[nodeId]);
      expect(instances, `instances of node ${nodeId}`).toEqual([
        expect.objectContaining({
          id: node(done, nodeId).instanceId,
          status: 'SUCCEEDED',
          triggerType: 'WORKFLOW',
        }),
      ]);
    }
    expect(await instancesOf(jobs.f)).toEqual([]);
  });

  // Guards: a FAILED node fails the run (its successor never starts, the
  // sibling finishes under LET_FINISH), and retry in place through the API
  // runs only the failed node again (a second instance) and then its
  // successor once, keeping the instances of the nodes that had succeeded.
  it('fails the run on a failed node; retry in place re-runs only the failed node and what follows', async () => {
    const marker = join(dir, uniqueName('b-may-succeed'));
    const jobs = {
      a: await job('workflow-step'),
      b: await job('workflow-step'),
      c: await job('workflow-step'),
      d: await job('workflow-step'),
    };
    const id = await workflow({
      onNodeFailure: 'LET_FINISH',
      nodes: [
        { id: 'a', kind: 'job', job: jobs.a },
        { id: 'b', kind: 'job', job: jobs.b, params: { failUnless: marker } },
        { id: 'c', kind: 'job', job: jobs.c },
        { id: 'd', kind: 'job', job: jobs.d },
      ],
      edges: [
        { from: 'a', to: 'b' },
        { from: 'a', to: 'c' },
        { from: 'b', to: 'd' },
      ],
    });
    const runId = await run(id);

    const failed = await waitForWorkflowRun(cluster.app, runId, isFinal);
    expect(failed.status, JSON.stringify(failed)).toBe('FAILED');
    expect(node(failed, 'a').status).toBe('SUCCEEDED');
    expect(node(failed, 'c').status).toBe('SUCCEEDED');
    expect(node(failed, 'b')).toMatchObject({ status: 'FAILED', attempt: 1 });
    expect(node(failed, 'd')).toMatchObject({ status: 'PENDING', instanceId: null });
    expect(failed.context).toEqual({ a: step([]), c: step(['a']) });
    const firstB = node(failed, 'b').instanceId;
    expect(firstB).not.toBeNull();

    await writeFile(marker, '');
    const retried = await cluster.app.api.post(`${base()}/workflow-runs/${runId}/retry`);
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    const done = await waitForWorkflowRun(cluster.app, runId, isFinal);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');

    // a and c kept their one instance; b ran a second one; d ran once.
    for (const nodeId of ['a', 'c'] as const) {
      expect(node(done, nodeId)).toMatchObject({
        status: 'SUCCEEDED',
        attempt: 1,
        instanceId: node(failed, nodeId).instanceId,
      });
      expect((await instancesOf(jobs[nodeId])).map((i) => i.id)).toEqual([
        node(failed, nodeId).instanceId,
      ]);
    }
    expect(node(done, 'b')).toMatchObject({ status: 'SUCCEEDED', attempt: 2 });
    const bInstances = await instancesOf(jobs.b);
    expect(bInstances.map((i) => [i.id, i.status])).toEqual([
      [firstB, 'FAILED'],
      [node(done, 'b').instanceId, 'SUCCEEDED'],
    ]);
    expect((await instancesOf(jobs.d)).map((i) => i.id)).toEqual([node(done, 'd').instanceId]);
    expect(done.context).toEqual({
      a: step([]),
      c: step(['a']),
      b: step(['a', 'c']),
      d: step(['a', 'b', 'c']),
    });
  });

  // Guards: a workflow node runs its workflow as a child run linked to the
  // parent (parent run and node), starting with the parent's context; what
  // the child's nodes set merges back into the parent, where p2 sees it.
  it('merges a nested workflow’s context back into its parent', async () => {
    const jobs = {
      p1: await job('workflow-step'),
      c1: await job('workflow-step'),
      c2: await job('workflow-step'),
      p2: await job('workflow-step'),
    };
    const child = await workflow({
      nodes: [
        { id: 'c1', kind: 'job', job: jobs.c1 },
        { id: 'c2', kind: 'job', job: jobs.c2 },
      ],
      edges: [{ from: 'c1', to: 'c2' }],
    });
    const parent = await workflow({
      nodes: [
        { id: 'p1', kind: 'job', job: jobs.p1 },
        { id: 'nested', kind: 'workflow', workflow: child },
        { id: 'p2', kind: 'job', job: jobs.p2 },
      ],
      edges: [
        { from: 'p1', to: 'nested' },
        { from: 'nested', to: 'p2' },
      ],
    });
    const runId = await run(parent);

    const done = await waitForWorkflowRun(cluster.app, runId, isFinal);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');
    expect(done.context).toEqual({
      p1: step([]),
      c1: step(['p1']),
      c2: step(['c1', 'p1']),
      p2: step(['c1', 'c2', 'p1']),
    });
    const nested = node(done, 'nested');
    expect(nested).toMatchObject({ status: 'SUCCEEDED', instanceId: null });
    expect(nested.childRunId).not.toBeNull();
    const childRun = await cluster.app.api.get(`${base()}/workflow-runs/${nested.childRunId}`);
    expect(childRun.body).toMatchObject({
      workflowId: child,
      status: 'SUCCEEDED',
      parentRunId: runId,
      parentNodeId: 'nested',
      context: { p1: step([]), c1: step(['p1']), c2: step(['c1', 'p1']) },
    });
  });
});
