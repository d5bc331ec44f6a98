import { describe, expect, it } from 'vitest';
import { decode, encode, ttMessages } from '../src/index.js';

// run_jobs in the compact form (each job's fields once a batch) must reach
// the worker's handler as the same whole runs the full form carries.

const {
  RunJob,
  RunJobs,
  RunJobShared,
  CompactRun,
  sharedPartOf,
  ownPartOf,
  MAX_EXPANDED_JOB_PARAMS_BYTES,
} = ttMessages;

const shared = {
  jobId: '7',
  executeType: 'MAP_REDUCE' as const,
  processorName: 'sum',
  jobParams: { scale: 2, tags: ['a'] },
  timeoutMs: 60_000,
  taskRetry: {
    maximumAttempts: 3,
    initialIntervalMs: 100,
    backoffCoefficient: 2,
    maximumIntervalMs: 1_000,
  },
  concurrencyPerWorker: 4,
  workers: ['w-1', 'w-2'],
  maxWorkerCount: 2,
  logLevel: 'debug' as const,
  frequency: undefined,
};
const own = (i: number) => ({
  instanceId: String(100 + i),
  epoch: i + 1,
  instanceParams: { n: i },
  runAttempt: 1 + (i % 2),
  startInMs: i === 0 ? 250 : undefined,
  workflow: undefined,
});

describe('run_jobs, compact form', () => {
  it('splits every field of a run between the job’s part and the run’s own', () => {
    const fields = [...Object.keys(RunJobShared.shape), ...Object.keys(CompactRun.shape)];
    expect(fields.filter((f) => f !== 'job').sort()).toEqual(Object.keys(RunJob.shape).sort());
  });

  it('splits and rebuilds a run with every field set, leaving none out', () => {
    const run = RunJob.parse({
      ...shared,
      ...own(0),
      executeType: 'STANDALONE',
      frequency: { type: 'FIXED_RATE', intervalMs: 1_000 },
      runAttempt: 3,
      workflow: { runId: '9', nodeId: 'n1', context: { k: 'v' }, contextLimitBytes: 1_024 },
    });
    const batch = { jobs: [sharedPartOf(run, run.workers)], compact: [ownPartOf(run, 0)] };
    expect(RunJobs.parse(decode(encode(batch))).runs).toStrictEqual([run]);
  });

  it('reaches the handler as the same whole runs, in order, each with its own jobParams', () => {
    const whole = [0, 1, 2].map((i) => RunJob.parse({ ...shared, ...own(i) }));
    const sent = decode(
      encode({ jobs: [shared], compact: [0, 1, 2].map((i) => ({ ...own(i), job: 0 })), sentAt: 5 }),
    );
    const got = RunJobs.parse(sent);
    expect(got.runs).toEqual(whole);
    expect(got.sentAt).toBe(5);
    // A processor changing its run's jobParams changes no other run's.
    expect(got.runs[0]?.jobParams).not.toBe(got.runs[1]?.jobParams);
  });

  it('takes whole runs as before, and both forms in one batch (whole ones first)', () => {
    const first = { ...shared, ...own(0) };
    const got = RunJobs.parse({ runs: [first], jobs: [shared], compact: [{ ...own(1), job: 0 }] });
    expect(got.runs.map((r) => r.instanceId)).toEqual(['100', '101']);
  });

  it('refuses a run naming no job entry, and a batch of no runs, naming the field', () => {
    const missing = RunJobs.safeParse({ jobs: [shared], compact: [{ ...own(0), job: 1 }] });
    expect(missing.success).toBe(false);
    expect(missing.error?.issues.map((i) => i.path.join('.'))).toEqual(['compact.0.job']);
    const empty = RunJobs.safeParse({ jobs: [shared], compact: [] });
    expect(empty.error?.issues.map((i) => i.path.join('.'))).toEqual(['runs']);
  });

  it('refuses a batch whose runs would copy one large jobParams past the bound, naming compact', () => {
    // 100 KB of jobParams named by 400 runs: 40 MB of copies from a 100 KB message.
    const large = { ...shared, jobParams: { blob: 'x'.repeat(100_000) } };
    const runs = (n: number) => Array.from({ length: n }, (_, i) => ({ ...own(i), job: 0 }));
    const refused = RunJobs.safeParse(decode(encode({ jobs: [large], compact: runs(400) })));
    expect(refused.success).toBe(false);
    expect(refused.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['compact', expect.stringContaining(`over ${MAX_EXPANDED_JOB_PARAMS_BYTES}`)],
    ]);
    // Under the bound (300 copies, 30 MB) it is taken, each run with its own copy.
    const taken = RunJobs.parse(decode(encode({ jobs: [large], compact: runs(300) })));
    expect(taken.runs).toHaveLength(300);
    expect(taken.runs[0]?.jobParams).not.toBe(taken.runs[1]?.jobParams);
  });
});
