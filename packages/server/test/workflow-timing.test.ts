import { describe, expect, it } from 'vitest';
import { startWorkflowRun } from '../src/workflows/workflow-engine.js';
import { isFinal, node, useWorkflowSetup, waitForRun } from './support/workflow-setup.js';

// Wait nodes end on time (an in-process timer, within the documented 1 s);
// maxConcurrentRuns queues a run (WAITING) until one ends, or fails it at
// once; a decision that does not give a boolean fails its node, named.

// A long scan period: only the wait node's own timer can end it on time.
const s = useWorkflowSetup(() => [], { sweepIntervalMs: 5_000 });
const DELAY_MS = 1_500;
const PRECISION_MS = 1_000;

describe('a wait node', () => {
  it(`ends at its due time, within ${PRECISION_MS} ms`, async () => {
    const wf = await s.workflow({
      nodes: [
        { id: 'first', kind: 'wait', delayMs: 0 },
        { id: 'nap', kind: 'wait', delayMs: DELAY_MS },
      ],
      edges: [{ from: 'first', to: 'nap' }],
    });
    const run = await s.start(wf);
    const done = await waitForRun(s.pool, s.appId, run.id, isFinal);
    expect(done.status).toBe('SUCCEEDED');
    const nap = node(done, 'nap');
    const took = (nap.finishedAt as number) - (nap.startedAt as number);
    expect(took).toBeGreaterThanOrEqual(DELAY_MS);
    expect(took).toBeLessThanOrEqual(DELAY_MS + PRECISION_MS);
  });
});

describe('maxConcurrentRuns', () => {
  it('queues a run beyond it (WAITING) and starts it when one ends', async () => {
    const wf = await s.workflow({
      maxConcurrentRuns: 1,
      nodes: [{ id: 'nap', kind: 'wait', delayMs: 500 }],
    });
    const first = await s.start(wf);
    const second = await s.start(wf);
    expect(first.status).toBe('RUNNING');
    expect(second.status).toBe('WAITING');
    const a = await waitForRun(s.pool, s.appId, first.id, isFinal);
    const b = await waitForRun(s.pool, s.appId, second.id, isFinal);
    expect([a.status, b.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(b.startedAt as number).toBeGreaterThanOrEqual(a.finishedAt as number);
  });

  it('fails a run beyond it at once with concurrencyOverflow FAIL', async () => {
    const wf = await s.workflow({
      maxConcurrentRuns: 1,
      concurrencyOverflow: 'FAIL',
      nodes: [{ id: 'nap', kind: 'wait', delayMs: 500 }],
    });
    await s.start(wf);
    const refused = await s.start(wf);
    expect(refused.status).toBe('FAILED');
    expect(refused.reason).toContain('maxConcurrentRuns (1)');
  });

  it('gives the same run for the same idempotency key', async () => {
    const wf = await s.workflow({ nodes: [{ id: 'nap', kind: 'wait', delayMs: 0 }] });
    const input = {
      app: { id: s.appId, name: s.app.name },
      workflow: wf,
      triggerType: 'API' as const,
      idempotencyKey: 'k1',
    };
    const one = await startWorkflowRun(s.pool, input);
    const two = await startWorkflowRun(s.pool, input);
    expect([one.created, two.created]).toEqual([true, false]);
    expect(two.run.id).toBe(one.run.id);
  });
});

describe('a decision', () => {
  it('that gives no boolean fails its node, naming it and the value', async () => {
    const wf = await s.workflow({
      nodes: [
        { id: 'pick', kind: 'decision', expression: 'params.n + 1.0' },
        { id: 'yes', kind: 'wait', delayMs: 0 },
      ],
      edges: [{ from: 'pick', to: 'yes', when: true }],
    });
    const run = await s.start(wf, { n: 1 });
    const done = await waitForRun(s.pool, s.appId, run.id, isFinal);
    expect(done.status).toBe('FAILED');
    expect(node(done, 'pick').reason).toBe('decision "pick": the expression gave 2, not a boolean');
    expect(node(done, 'yes').status).toBe('PENDING');
  });
});
