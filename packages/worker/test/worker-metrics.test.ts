import { describe, expect, it } from 'vitest';
import { WorkerMetrics } from '../src/runtime/worker-metrics.js';

const sources = {
  queuedRuns: () => 0,
  slotsBusy: () => 0,
  slotsTotal: 4,
  taskTrackers: () => 0,
  processorTrackers: () => 0,
  routeStats: () => new Map(),
};

const sample = (text: string, series: string) =>
  Number(
    text
      .split('\n')
      .find((line) => line.startsWith(`${series} `))
      ?.split(' ')[1],
  );

describe('WorkerMetrics counters', () => {
  it('show every count once, across scrapes, with the zero series from the start', async () => {
    const metrics = new WorkerMetrics(sources as never);
    let text = await metrics.registry.metrics();
    expect(sample(text, 'drover_worker_tasks_total{outcome="succeeded"}')).toBe(0);
    expect(sample(text, 'drover_worker_tasks_total{outcome="failed"}')).toBe(0);
    for (let i = 0; i < 3; i++) metrics.runStarted('STANDALONE');
    metrics.runFinished('SUCCEEDED');
    text = await metrics.registry.metrics();
    expect(sample(text, 'drover_worker_runs_started_total{execute_type="STANDALONE"}')).toBe(3);
    expect(sample(text, 'drover_worker_runs_finished_total{status="SUCCEEDED"}')).toBe(1);
    metrics.runStarted('STANDALONE');
    metrics.runStarted('MAP_REDUCE');
    text = await metrics.registry.metrics();
    expect(sample(text, 'drover_worker_runs_started_total{execute_type="STANDALONE"}')).toBe(4);
    expect(sample(text, 'drover_worker_runs_started_total{execute_type="MAP_REDUCE"}')).toBe(1);
    expect(sample(text, 'drover_worker_runs_finished_total{status="SUCCEEDED"}')).toBe(1);
  });

  it('counts processor calls by outcome', async () => {
    const metrics = new WorkerMetrics(sources as never);
    const executor = metrics.counting({
      process: (_p, _r, task) =>
        task.taskId === 'bad' ? Promise.reject(new Error('no')) : Promise.resolve(null),
      close: async () => undefined,
    });
    const call = (taskId: string) =>
      executor.process(
        {} as never,
        {} as never,
        { taskId, taskName: 'root', attempt: 1, isRootTask: true, payload: null },
        {} as never,
        {} as never,
      );
    await call('ok');
    await call('ok');
    await expect(call('bad')).rejects.toThrow('no');
    const text = await metrics.registry.metrics();
    expect(sample(text, 'drover_worker_tasks_total{outcome="succeeded"}')).toBe(2);
    expect(sample(text, 'drover_worker_tasks_total{outcome="failed"}')).toBe(1);
  });
});
