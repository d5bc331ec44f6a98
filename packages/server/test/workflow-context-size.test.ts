import { MAX_CONTEXT_BYTES } from '@drover/protocol';
import { describe, expect, it } from 'vitest';
import { basicProcessor } from '../../worker/src/index.js';
import { isFinal, node, useWorkflowSetup, waitForRun } from './support/workflow-setup.js';

// The workflow context is bounded: a processor's set that makes its update
// larger than MAX_CONTEXT_BYTES throws (the node fails, naming the size);
// updates that fit alone but together pass it fail the run, naming both.

const s = useWorkflowSetup(() => [
  basicProcessor({
    name: 'fills',
    process: (ctx) => {
      const kib = (ctx.params as { kib: number }).kib;
      ctx.workflow?.set(ctx.workflow.nodeId, 'x'.repeat(kib * 1024));
      return null;
    },
  }),
]);

describe('the workflow context limit', () => {
  it('refuses a set past it: the node fails, naming the size and the limit', async () => {
    const fills = await s.job('fills');
    const wf = await s.workflow({
      nodes: [{ id: 'huge', kind: 'job', job: fills, params: { kib: 300 } }],
    });
    const run = await s.start(wf);
    const done = await waitForRun(s.pool, s.appId, run.id, isFinal);
    expect(done.status).toBe('FAILED');
    expect(node(done, 'huge').result).toMatch(
      new RegExp(
        `ctx.workflow.set\\("huge"\\): the context update would be \\d+ bytes of JSON, over the limit of ${MAX_CONTEXT_BYTES}`,
      ),
    );
    expect(done.context).toEqual({});
  });

  it('fails the run when merged updates pass it', async () => {
    const fills = await s.job('fills');
    const wf = await s.workflow({
      nodes: [
        { id: 'one', kind: 'job', job: fills, params: { kib: 150 } },
        { id: 'two', kind: 'job', job: fills, params: { kib: 150 } },
        { id: 'after', kind: 'wait', delayMs: 0 },
      ],
      edges: [
        { from: 'one', to: 'two' },
        { from: 'two', to: 'after' },
      ],
    });
    const run = await s.start(wf);
    const done = await waitForRun(s.pool, s.appId, run.id, isFinal);
    expect(done.status).toBe('FAILED');
    expect(done.reason).toMatch(
      new RegExp(
        `the workflow context is \\d+ bytes of JSON, over the limit of ${MAX_CONTEXT_BYTES}`,
      ),
    );
    expect(node(done, 'after').status).toBe('PENDING');
  });
});
