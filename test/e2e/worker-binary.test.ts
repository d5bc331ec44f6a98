import { DROVER_VERSION } from '@drover/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import { buildBinaries } from '../harness/built-binaries.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { runBuiltDrover } from '../harness/drover-process.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';

// Real drover-server and drover-worker processes, real jobs, and a kill -9.

const db = useDatabase();
let cluster: DroverCluster;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url);
});
afterAll(() => cluster.stop());

async function run(processorName: string, params?: unknown) {
  const { app } = cluster;
  const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    processorName,
    timeExpressionType: 'API',
  });
  const res = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, { params });
  return res.body.id as string;
}

describe('drover-worker binary', () => {
  it('runs a job from a processors module', async () => {
    await cluster.startWorker('w-echo');
    const id = await run('echo', { text: 'through real processes' });
    const done = await waitForInstance(
      cluster.app,
      id,
      (i) => i.status === 'SUCCEEDED' || i.status === 'FAILED',
    );
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      result: 'through real processes',
      workerId: 'w-echo',
    });
  });

  it('runs processor threads when node was given a V8 flag (threads cannot take one)', async () => {
    // `node --max-semi-space-size=64 drover-worker`: the flag went to each
    // thread with the rest of node's flags, and the worker could not start.
    await cluster.startWorker('w-v8-flag', ['--threads', '1'], {
      nodeArgs: ['--max-semi-space-size=64'],
    });
    const id = await run('echo', { text: 'with a V8 flag' });
    const done = await waitForInstance(
      cluster.app,
      id,
      (i) => i.status === 'SUCCEEDED' || i.status === 'FAILED',
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: 'with a V8 flag' });
  });

  it('runs a run whose worker was kill -9ed again on another worker, without a retry', async () => {
    await cluster.startWorker('w-victim');
    const id = await run('forever');
    const running = await waitForInstance(cluster.app, id, (i) => i.status === 'RUNNING', 30_000);
    // Whichever worker took the run is the one to kill.
    cluster.workers.get(running.workerId as string)?.child.kill('SIGKILL');
    const again = await waitForInstance(
      cluster.app,
      id,
      (i) => i.status === 'RUNNING' && i.workerId !== running.workerId,
      40_000,
    );
    expect(again.epoch).toBeGreaterThan(running.epoch as number);
    expect(again.runAttempt).toBe(1);
  }, 60_000);

  it('drains on SIGTERM: exits 0 after telling the servers it takes no work', async () => {
    const w = await cluster.startWorker('w-drain');
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(w.tail()).toMatch(/"msg":"worker stopped"/);
  });
});

describe('drover-worker settings', () => {
  beforeAll(() => buildBinaries(['worker']), 120_000);
  // Each numeric or enum setting, as a flag and as its variable: exit 2, one line naming it.
  const refused: [string, string[], NodeJS.ProcessEnv, string][] = [
    ['--threads abc', ['--threads', 'abc'], {}, "'--threads <n>' argument 'abc'"],
    ['--threads -1', ['--threads', '-1'], {}, "'--threads <n>' argument '-1'"],
    ['--concurrency 0', ['--concurrency', '0'], {}, "'--concurrency <n>' argument '0'"],
    ['--max-queued-runs x', ['--max-queued-runs', 'x'], {}, "'--max-queued-runs <n>'"],
    ['DROVER_MAX_QUEUED_RUNS', [], { DROVER_MAX_QUEUED_RUNS: 'lots' }, "'DROVER_MAX_QUEUED_RUNS'"],
    ['DROVER_DRAIN_GRACE_MS', [], { DROVER_DRAIN_GRACE_MS: '5s' }, "'DROVER_DRAIN_GRACE_MS'"],
    ['--log-level', ['--log-level', 'loud'], {}, "'--log-level <level>' argument 'loud'"],
    ['DROVER_LOG_LEVEL', [], { DROVER_LOG_LEVEL: 'loud' }, "'DROVER_LOG_LEVEL'"],
    ['DROVER_INSECURE_NATS', [], { DROVER_INSECURE_NATS: 'maybe' }, 'DROVER_INSECURE_NATS'],
  ];
  it('exits 2 with one line naming a bad flag or variable', { timeout: 90_000 }, async () => {
    const results = await Promise.all(
      refused.map(([, args, env]) =>
        runBuiltDrover('worker', ['--app', 'a', '--processors', 'p.js', ...args], env),
      ),
    );
    results.forEach((r, i) => {
      const [label, , , named] = refused[i] as (typeof refused)[number];
      expect({ label, code: r.code }).toEqual({ label, code: 2 });
      expect(r.stderr.trim().split('\n'), label).toHaveLength(1);
      expect(r.stderr, label).toContain(named);
      expect(r.stderr, label).toMatch(/^drover-worker: /);
    });
  });

  it('prints its version with --version', async () => {
    const r = await runBuiltDrover('worker', ['--version']);
    expect(r).toMatchObject({ code: 0, stdout: `${DROVER_VERSION}\n` });
  });
});
