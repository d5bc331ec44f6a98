import { ttMessages } from '@drover/protocol';
import { describe, expect, it } from 'vitest';
import { compactRuns } from '../src/dispatch/compact-runs.js';
import type { RunJob } from '../src/dispatch/run-job-message.js';

// A compact batch shares a job's fields only between runs built from the
// same spec: a job edited between two loads must not lend one run the
// other's timeout or jobParams.

const run = (id: string, over: Partial<RunJob> = {}): RunJob => ({
  instanceId: id,
  epoch: 1,
  jobId: '7',
  executeType: 'STANDALONE',
  processorName: 'noop',
  jobParams: null,
  instanceParams: { id },
  timeoutMs: 1_000,
  taskRetry: {
    maximumAttempts: 1,
    initialIntervalMs: 0,
    backoffCoefficient: 1,
    maximumIntervalMs: 0,
  },
  workers: ['w-1'],
  logLevel: 'info',
  ...over,
});

describe('compactRuns', () => {
  it('gives runs of one spec one entry, and an edited spec its own', () => {
    const spec = {};
    const edited = {};
    const batch = compactRuns([
      { spec, run: run('1') },
      { spec: edited, run: run('2', { timeoutMs: 5_000 }) },
      { spec, run: run('3', { workers: ['w-2', 'w-1'] }) },
    ]);
    expect(batch.jobs.map((j) => j.timeoutMs)).toEqual([1_000, 5_000]);
    expect(batch.compact.map((c) => c.job)).toEqual([0, 1, 0]);
    // A standalone run's TaskTracker reads no `workers`: none are sent.
    expect(batch.jobs[0]?.workers).toEqual([]);
    const whole = ttMessages.RunJobs.parse(batch).runs;
    expect(whole.map((r) => [r.instanceId, r.timeoutMs, r.instanceParams])).toEqual([
      ['1', 1_000, { id: '1' }],
      ['2', 5_000, { id: '2' }],
      ['3', 1_000, { id: '3' }],
    ]);
  });

  it('keeps each run’s workers for a run that spreads tasks over them', () => {
    const spec = {};
    const batch = compactRuns([
      { spec, run: run('1', { executeType: 'MAP', workers: ['w-1', 'w-2'] }) },
      { spec, run: run('2', { executeType: 'MAP', workers: ['w-2', 'w-1'] }) },
      { spec, run: run('3', { executeType: 'MAP', workers: ['w-1', 'w-2'] }) },
    ]);
    expect(batch.compact.map((c) => c.job)).toEqual([0, 1, 0]);
    const whole = ttMessages.RunJobs.parse(batch).runs;
    expect(whole.map((r) => r.workers)).toEqual([
      ['w-1', 'w-2'],
      ['w-2', 'w-1'],
      ['w-1', 'w-2'],
    ]);
  });
});
