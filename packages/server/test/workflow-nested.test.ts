import { describe, expect, it } from 'vitest';
import { basicProcessor } from '../../worker/src/index.js';
import { getWorkflowRun } from '../src/workflows/workflow-engine.js';
import { MAX_WORKFLOW_DEPTH } from '../src/workflows/workflow-spec.js';
import { isFinal, node, useWorkflowSetup, waitForRun } from './support/workflow-setup.js';

// A nested workflow node runs another workflow as a child run that starts
// from the parent's context; the child's context merges back into the
// parent's when it succeeds. Nesting deeper than MAX_WORKFLOW_DEPTH fails.

const s = useWorkflowSetup(() => [
  basicProcessor({
    name: 'sets',
    process: (ctx) => {
      const wf = ctx.workflow;
      if (!wf) throw new Error('not in a workflow');
      wf.set(`${wf.nodeId}Saw`, Object.keys(wf.context).sort().join(','));
      wf.set(wf.nodeId, (ctx.params as { value?: unknown } | null)?.value ?? true);
      return null;
    },
  }),
]);

describe('a nested workflow', () => {
  it("starts from the parent's context and merges its own back", async () => {
    const sets = await s.job('sets');
    const child = await s.workflow({
      nodes: [{ id: 'inner', kind: 'job', job: sets, params: { value: 'from child' } }],
    });
    const parent = await s.workflow({
      nodes: [
        { id: 'pre', kind: 'job', job: sets },
        { id: 'nest', kind: 'workflow', workflow: child.id },
        { id: 'post', kind: 'job', job: sets },
      ],
      edges: [
        { from: 'pre', to: 'nest' },
        { from: 'nest', to: 'post' },
      ],
    });
    const run = await s.start(parent, { seed: 1 });
    const done = await waitForRun(s.pool, s.appId, run.id, isFinal);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');
    const childRunId = node(done, 'nest').childRunId;
    expect(childRunId).not.toBeNull();
    const childRun = await getWorkflowRun(s.pool, s.appId, childRunId as string);
    expect(childRun).toMatchObject({
      status: 'SUCCEEDED',
      parentRunId: run.id,
      parentNodeId: 'nest',
      initParams: { seed: 1, pre: true, preSaw: 'seed' },
    });
    // inner saw the parent's context; post saw what the child added.
    expect(done.context).toEqual({
      seed: 1,
      pre: true,
      preSaw: 'seed',
      inner: 'from child',
      innerSaw: 'pre,preSaw,seed',
      post: true,
      postSaw: 'inner,innerSaw,pre,preSaw,seed',
    });
  });

  it(`fails a node nested deeper than ${MAX_WORKFLOW_DEPTH} levels`, async () => {
    let inner = await s.workflow({ nodes: [{ id: 'leaf', kind: 'wait', delayMs: 0 }] });
    for (let level = 0; level < MAX_WORKFLOW_DEPTH + 1; level++)
      inner = await s.workflow({ nodes: [{ id: 'down', kind: 'workflow', workflow: inner.id }] });
    const run = await s.start(inner);
    const done = await waitForRun(s.pool, s.appId, run.id, isFinal);
    expect(done.status).toBe('FAILED');
    // The failure comes up the chain: the deepest allowed run's node names the limit.
    let at = done;
    for (let depth = 0; depth < MAX_WORKFLOW_DEPTH; depth++) {
      const next = node(at, 'down').childRunId;
      expect(next, `depth ${depth}`).not.toBeNull();
      at = (await getWorkflowRun(s.pool, s.appId, next as string)) as typeof at;
    }
    expect(node(at, 'down')).toMatchObject({ status: 'FAILED', childRunId: null });
    expect(node(at, 'down').reason).toContain(`nested deeper than ${MAX_WORKFLOW_DEPTH}`);
  });
});
