import { describe, expect, it } from 'vitest';
import { basicProcessor, NonRetryableError } from '../../worker/src/index.js';
import { markNodeSucceeded, retryWorkflowRun } from '../src/workflows/workflow-engine.js';
import {
  isFinal,
  node,
  nodeInstances,
  useWorkflowSetup,
  waitForRun,
} from './support/workflow-setup.js';

// A failed node fails its workflow run and (STOP_OTHERS) stops a sibling
// still running; a retry in place re-runs only the failed and stopped nodes;
// a node's retry override replaces its job's instanceRetry; a failed node
// marked succeeded lets the run continue.

const flags = { fail: true, hold: true };
/** Sibling runs that saw their stop (ctx.signal aborted). */
const stoppedSiblings: string[] = [];

const s = useWorkflowSetup(() => [
  basicProcessor({
    name: 'ok',
    process: (ctx) => {
      ctx.workflow?.set(ctx.workflow.nodeId, true);
      return 'ok';
    },
  }),
  basicProcessor({
    name: 'fails',
    process: () => {
      if (flags.fail) throw new NonRetryableError('extract source is down');
      return 'fixed';
    },
  }),
  basicProcessor({
    name: 'flaky',
    process: (ctx) => {
      if (ctx.runAttempt === 1) throw new Error('first run fails');
      return `run ${ctx.runAttempt}`;
    },
  }),
  basicProcessor({
    name: 'holds',
    process: (ctx) =>
      new Promise<string>((resolve) => {
        if (!flags.hold) return resolve('quick');
        ctx.signal.addEventListener('abort', () => {
          stoppedSiblings.push(ctx.instanceId);
          resolve('aborted');
        });
      }),
  }),
]);

describe('a failed node', () => {
  it('fails the run and stops its running sibling; retry in place re-runs only those', async () => {
    flags.fail = true;
    flags.hold = true;
    const ok = await s.job('ok');
    const fails = await s.job('fails');
    const holds = await s.job('holds');
    const wf = await s.workflow({
      onNodeFailure: 'STOP_OTHERS',
      nodes: [
        { id: 'a', kind: 'job', job: ok },
        { id: 'f', kind: 'job', job: fails },
        { id: 'sib', kind: 'job', job: holds },
        { id: 'z', kind: 'job', job: ok },
      ],
      edges: [
        { from: 'a', to: 'f' },
        { from: 'a', to: 'sib' },
        { from: 'f', to: 'z' },
        { from: 'sib', to: 'z' },
      ],
    });
    const run = await s.start(wf);
    const failed = await waitForRun(s.pool, s.appId, run.id, isFinal);
    expect(failed.status).toBe('FAILED');
    expect(failed.reason).toContain('node "f" FAILED');
    expect(failed.reason).toContain('extract source is down');
    // The sibling was stopped through the instance stop path: STOPPED, and its processor told.
    const sibling = await waitForRun(
      s.pool,
      s.appId,
      run.id,
      (r) => node(r, 'sib').status !== 'RUNNING',
    );
    expect(node(sibling, 'sib').status).toBe('STOPPED');
    const first = await nodeInstances(s.pool, run.id);
    const sibInstance = first.find((i) => i.node === 'sib');
    expect(sibInstance?.status).toBe('STOPPED');
    await expect.poll(() => stoppedSiblings).toContain(sibInstance?.id);
    expect(node(failed, 'z').status).toBe('PENDING');
    const aBefore = first.find((i) => i.node === 'a');

    flags.fail = false;
    flags.hold = false;
    const retried = await retryWorkflowRun(s.pool, s.appId, run.id);
    expect(retried?.status).toBe('RUNNING');
    const done = await waitForRun(s.pool, s.appId, run.id, isFinal);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');
    const after = await nodeInstances(s.pool, run.id);
    // a ran once (same instance, untouched); f and sib twice (attempt 2); z once.
    expect(after.filter((i) => i.node === 'a')).toEqual([aBefore]);
    expect(after.filter((i) => i.node === 'f').map((i) => [i.attempt, i.status])).toEqual([
      [1, 'FAILED'],
      [2, 'SUCCEEDED'],
    ]);
    expect(after.filter((i) => i.node === 'sib').map((i) => [i.attempt, i.status])).toEqual([
      [1, 'STOPPED'],
      [2, 'SUCCEEDED'],
    ]);
    expect(after.filter((i) => i.node === 'z')).toHaveLength(1);
    expect(node(done, 'f').attempt).toBe(2);
    expect(node(done, 'a').attempt).toBe(1);
  });

  it('a retry in place of an unfinished run is refused', async () => {
    flags.hold = true;
    const holds = await s.job('holds');
    const wf = await s.workflow({ nodes: [{ id: 'h', kind: 'job', job: holds }] });
    const run = await s.start(wf);
    await expect(retryWorkflowRun(s.pool, s.appId, run.id)).rejects.toThrow(
      /only a FAILED or STOPPED/,
    );
    flags.hold = false;
  });

  it("uses the node's retry override instead of its job's instanceRetry", async () => {
    const flaky = await s.job('flaky'); // the job's instanceRetry: 1 attempt
    const wf = await s.workflow({
      nodes: [
        {
          id: 'r',
          kind: 'job',
          job: flaky,
          retry: { maximumAttempts: 2, initialIntervalMs: 0 },
        },
      ],
    });
    const run = await s.start(wf);
    const done = await waitForRun(s.pool, s.appId, run.id, isFinal);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');
    expect(node(done, 'r').result).toBe('run 2');
  });

  it('marked succeeded, lets the run continue', async () => {
    flags.fail = true;
    const ok = await s.job('ok');
    const fails = await s.job('fails');
    const wf = await s.workflow({
      nodes: [
        { id: 'f', kind: 'job', job: fails },
        { id: 'next', kind: 'job', job: ok },
      ],
      edges: [{ from: 'f', to: 'next' }],
    });
    const run = await s.start(wf);
    const failed = await waitForRun(s.pool, s.appId, run.id, isFinal);
    expect(failed.status).toBe('FAILED');
    expect(node(failed, 'next').status).toBe('PENDING');
    await expect(markNodeSucceeded(s.pool, s.appId, run.id, 'nope')).rejects.toThrow(
      'node "nope" of workflow run',
    );
    await expect(markNodeSucceeded(s.pool, s.appId, run.id, 'next')).rejects.toThrow(
      'is not FAILED',
    );
    const marked = await markNodeSucceeded(s.pool, s.appId, run.id, 'f');
    expect(marked?.status).toBe('RUNNING');
    const done = await waitForRun(s.pool, s.appId, run.id, isFinal);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');
    expect(node(done, 'f')).toMatchObject({ status: 'SUCCEEDED', markedSuccess: true });
    expect(done.context).toEqual({ next: true });
    expect(await nodeInstances(s.pool, run.id)).toHaveLength(2);
  });
});
