import type { DroverEvent } from '@drover/protocol';
import { subscribeEvents } from '@drover/transport';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNats } from '../../../test/harness/fixtures.js';
import { basicProcessor, NonRetryableError } from '../../worker/src/index.js';
import { getWorkflowRun, stopWorkflowRun } from '../src/workflows/workflow-engine.js';
import {
  isFinal,
  node,
  nodeInstances,
  useWorkflowSetup,
  waitForRun,
} from './support/workflow-setup.js';

// Stopping a run stops its running nodes (instances through the instance stop
// path, nested runs with theirs); LET_FINISH lets running nodes end before
// the run fails, starting nothing new; workflow-run and workflow-node events
// go out on drover.<app>.events.>.

const nats = useNats();
const events: DroverEvent[] = [];
/** Held runs by node id: released by the test, or stopped. */
const gates = new Map<string, () => void>();
const aborted: string[] = [];

const s = useWorkflowSetup(() => [
  basicProcessor({
    name: 'holds',
    process: (ctx) =>
      new Promise<string>((resolve) => {
        const nodeId = ctx.workflow?.nodeId ?? '?';
        gates.set(nodeId, () => resolve(`released ${nodeId}`));
        ctx.signal.addEventListener('abort', () => {
          aborted.push(nodeId);
          resolve('aborted');
        });
      }),
  }),
  basicProcessor({
    name: 'fails',
    process: () => {
      throw new NonRetryableError('broken');
    },
  }),
]);

beforeAll(async () => {
  const monitor = await nats.connect('monitor');
  subscribeEvents(monitor.nc, s.app.name, (e) => events.push(e), pino({ level: 'silent' }));
  await monitor.nc.flush();
});

describe('stopping a workflow run', () => {
  it('stops its running node and its nested run, and says so in events', async () => {
    const holds = await s.job('holds');
    const child = await s.workflow({ nodes: [{ id: 'deep', kind: 'job', job: holds }] });
    const wf = await s.workflow({
      nodes: [
        { id: 'top', kind: 'job', job: holds },
        { id: 'nest', kind: 'workflow', workflow: child.id },
      ],
    });
    const run = await s.start(wf);
    await expect.poll(() => [...gates.keys()].sort(), { timeout: 20_000 }).toEqual(['deep', 'top']);
    const stopped = await stopWorkflowRun(s.pool, s.appId, run.id, 'enough');
    expect(stopped).toMatchObject({ status: 'STOPPED', reason: 'enough' });
    await expect.poll(() => [...aborted].sort(), { timeout: 20_000 }).toEqual(['deep', 'top']);
    const done = await waitForRun(s.pool, s.appId, run.id, (r) =>
      r.nodes.every((n) => n.status !== 'RUNNING'),
    );
    expect(done.status).toBe('STOPPED');
    expect(node(done, 'top').status).toBe('STOPPED');
    expect(node(done, 'nest').status).toBe('STOPPED');
    const childRun = await getWorkflowRun(s.pool, s.appId, node(done, 'nest').childRunId as string);
    expect(childRun?.status).toBe('STOPPED');
    const childDone = await waitForRun(s.pool, s.appId, childRun?.id as string, (r) =>
      r.nodes.every((n) => n.status !== 'RUNNING'),
    );
    expect(node(childDone, 'deep').status).toBe('STOPPED');
    expect((await nodeInstances(s.pool, run.id)).map((i) => i.status)).toEqual(['STOPPED']);
    expect(await stopWorkflowRun(s.pool, s.appId, run.id)).toMatchObject({ status: 'STOPPED' });

    await expect
      .poll(() =>
        events.some(
          (e) => e.type === 'workflow-run' && e.runId === run.id && e.status === 'STOPPED',
        ),
      )
      .toBe(true);
    await expect
      .poll(() =>
        events.some(
          (e) =>
            e.type === 'workflow-node' &&
            e.runId === run.id &&
            e.nodeId === 'top' &&
            e.status === 'STOPPED' &&
            e.instanceId !== null,
        ),
      )
      .toBe(true);
    expect(
      events.some(
        (e) =>
          e.type === 'workflow-node' &&
          e.runId === run.id &&
          e.nodeId === 'nest' &&
          e.status === 'RUNNING' &&
          e.childRunId === childRun?.id,
      ),
    ).toBe(true);
    gates.clear();
  });
});

describe('onNodeFailure LET_FINISH', () => {
  it('lets a running node finish, starts nothing new, then fails the run', async () => {
    const holds = await s.job('holds');
    const fails = await s.job('fails');
    const wf = await s.workflow({
      onNodeFailure: 'LET_FINISH',
      nodes: [
        { id: 'slow', kind: 'job', job: holds },
        { id: 'bad', kind: 'job', job: fails },
        { id: 'next', kind: 'job', job: holds },
      ],
      edges: [{ from: 'slow', to: 'next' }],
    });
    const run = await s.start(wf);
    await waitForRun(s.pool, s.appId, run.id, (r) => node(r, 'bad').status === 'FAILED');
    await expect.poll(() => gates.has('slow'), { timeout: 20_000 }).toBe(true);
    const meanwhile = await getWorkflowRun(s.pool, s.appId, run.id);
    expect(meanwhile?.status).toBe('RUNNING');
    gates.get('slow')?.();
    const done = await waitForRun(s.pool, s.appId, run.id, isFinal);
    expect(done.status).toBe('FAILED');
    expect(done.reason).toContain('node "bad" FAILED');
    expect(node(done, 'slow').status).toBe('SUCCEEDED');
    expect(node(done, 'next').status).toBe('PENDING');
    expect(aborted).not.toContain('slow');
  });
});
