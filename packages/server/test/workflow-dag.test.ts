import { describe, expect, it } from 'vitest';
import { uniqueName } from '../../../test/harness/fixtures.js';
import { basicProcessor, mapReduceProcessor } from '../../worker/src/index.js';
import { startWorkflowRun } from '../src/workflows/workflow-engine.js';
import {
  isFinal,
  node,
  nodeInstances,
  useWorkflowSetup,
  waitForRun,
} from './support/workflow-setup.js';

// A diamond DAG (a → b, c → d) where b is a map-reduce run, then a decision
// over the context picks one of two branches: the context flows from node to
// node (a sets x, b's reduce sets y, c reads x), the untaken branch is
// SKIPPED, every node runs once, and the run SUCCEEDS.

/** What each processor saw of the workflow context, by instance. */
const seen: { processor: string; context: unknown }[] = [];
/** What each map task of the map-reduce node saw of the context, and a set's error. */
const mapTasks: { x: unknown; refused: string }[] = [];

const s = useWorkflowSetup(() => [
  basicProcessor({
    name: 'extract',
    process: (ctx) => {
      seen.push({ processor: 'extract', context: ctx.workflow?.context });
      ctx.workflow?.set('x', 7);
      return 'extracted';
    },
  }),
  mapReduceProcessor({
    name: 'transform',
    process: async (ctx) => {
      if (ctx.isRootTask) {
        await ctx.map([1, 2, 3], 'part');
        return null;
      }
      // A map task reads the context; setting it is the TaskTracker's (reduce).
      let refused = '';
      try {
        ctx.workflow?.set('fromTask', 1);
      } catch (err) {
        refused = (err as Error).message;
      }
      mapTasks.push({ x: ctx.workflow?.context.x, refused });
      return (ctx.payload as number) * 10;
    },
    reduce: (ctx, results) => {
      seen.push({ processor: 'transform', context: ctx.workflow?.context });
      const sum = results.reduce((s, r) => s + (r.result as number), 0);
      ctx.workflow?.set('y', sum);
      return sum;
    },
  }),
  basicProcessor({
    name: 'record',
    process: (ctx) => {
      seen.push({
        processor: `record:${ctx.workflow?.nodeId}`,
        context: ctx.workflow?.context,
      });
      ctx.workflow?.set(`${ctx.workflow.nodeId}Saw`, ctx.workflow.context.x ?? null);
      return ctx.params ?? null;
    },
  }),
]);

describe('diamond DAG with a map-reduce node and a decision', () => {
  it('flows the context, takes one branch, runs each node once', async () => {
    const extract = await s.job('extract');
    const transform = await s.job('transform', { executeType: 'MAP_REDUCE' });
    const record = await s.job('record');
    const wf = await s.workflow({
      name: uniqueName('etl'),
      nodes: [
        { id: 'a', kind: 'job', job: extract },
        { id: 'b', kind: 'job', job: transform },
        { id: 'c', kind: 'job', job: record },
        { id: 'd', kind: 'job', job: record, params: { from: 'd' } },
        { id: 'big', kind: 'decision', expression: 'context.x + context.y > 50.0' },
        { id: 'load', kind: 'job', job: record, params: 'load' },
        { id: 'alert', kind: 'job', job: record, params: 'alert' },
      ],
      edges: [
        { from: 'a', to: 'b' },
        { from: 'a', to: 'c' },
        { from: 'b', to: 'd' },
        { from: 'c', to: 'd' },
        { from: 'd', to: 'big' },
        { from: 'big', to: 'load', when: true },
        { from: 'big', to: 'alert', when: false },
      ],
    });
    const { run, created } = await startWorkflowRun(s.pool, {
      app: { id: s.appId, name: s.app.name },
      workflow: wf,
      initParams: { batch: 'b1' },
      triggerType: 'API',
    });
    expect(created).toBe(true);
    expect(run.context).toEqual({ batch: 'b1' });

    const done = await waitForRun(s.pool, s.appId, run.id, isFinal);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');
    // a set x (7), b's reduce set y (10 + 20 + 30), c and d saw x; 67 > 50: load, not alert.
    expect(done.context).toEqual({ batch: 'b1', x: 7, y: 60, cSaw: 7, dSaw: 7, loadSaw: 7 });
    expect(node(done, 'big')).toMatchObject({ status: 'SUCCEEDED', result: true });
    expect(node(done, 'load').status).toBe('SUCCEEDED');
    expect(node(done, 'alert').status).toBe('SKIPPED');
    expect(node(done, 'alert').instanceId).toBeNull();
    // The map-reduce's reduce saw a's x; the first node saw the init params.
    expect(seen.find((s) => s.processor === 'extract')?.context).toEqual({ batch: 'b1' });
    expect(seen.find((s) => s.processor === 'transform')?.context).toEqual({ batch: 'b1', x: 7 });
    expect(seen.find((s) => s.processor === 'record:d')?.context).toMatchObject({ x: 7, y: 60 });

    expect(mapTasks).toHaveLength(3);
    for (const t of mapTasks) {
      expect(t.x).toBe(7);
      expect(t.refused).toContain('ctx.workflow.set is not available in a map task');
    }

    const instances = await nodeInstances(s.pool, run.id);
    expect(instances.map((i) => i.node).sort()).toEqual(['a', 'b', 'c', 'd', 'load']);
    expect(instances.every((i) => i.status === 'SUCCEEDED' && i.attempt === 1)).toBe(true);
    expect(instances.find((i) => i.node === 'd')?.params).toEqual({ from: 'd' });
    // d started only after both b and c ended.
    const d = instances.find((i) => i.node === 'd');
    for (const before of ['b', 'c']) {
      const n = node(done, before);
      expect(n.finishedAt).not.toBeNull();
      expect(node(done, 'd').startedAt as number).toBeGreaterThanOrEqual(n.finishedAt as number);
    }
    expect(d).toBeDefined();
  });
});
