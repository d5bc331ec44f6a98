import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// Results, task payloads and params near and over what one NATS message
// (max_payload, 1 MiB here) can carry, across two worker processes: what fits
// goes through in messages cut by bytes; what cannot fails alone, at once,
// naming its size, and no worker is dropped from a run for it.

const db = useDatabase();
let cluster: DroverCluster;
const WORKERS = ['big-1', 'big-2'];
const final = (i: { status: string }) => ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(i.status);

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: WORKERS });
});
afterAll(() => cluster.stop());

describe('oversized results, payloads and params', () => {
  it('fails only the task whose result is over the limit; big results travel in reports cut by bytes', async () => {
    // Ten results of 180 KB finish together on each worker: 1.8 MB a report if cut by count.
    const run = await cluster.run(
      { processorName: 'sized', executeType: 'MAP_REDUCE', concurrencyPerWorker: 10 },
      { params: { count: 60, resultChars: 60_000, tooBig: 5 } },
    );
    const done = await waitForInstance(cluster.app, run.id, final, 60_000);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');
    const summary = JSON.parse(done.result as string);
    expect(summary.ok).toBe(59);
    expect(summary.workers).toEqual(WORKERS);
    expect(summary.retried).toBe(0);
    expect(summary.failed).toEqual([
      expect.stringMatching(
        /^root\.1\.5: task result too large: 65537 characters, over the 65536-character limit/,
      ),
    ]);
  }, 90_000);

  it('sends big tasks and params in start_tasks cut by bytes, dropping no worker', async () => {
    // 250 KB tasks (two per map batch) and 450 KB of run params: any three
    // tasks sent with the params pass max_payload. Tasks end together once a
    // second, so both workers fill up and slots free ten at a time.
    const run = await cluster.run(
      { processorName: 'sized', executeType: 'MAP_REDUCE', concurrencyPerWorker: 10 },
      { params: { count: 140, payloadChars: 250_000, pad: 'q'.repeat(450_000), alignMs: 1_000 } },
    );
    const done = await waitForInstance(cluster.app, run.id, final, 60_000);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');
    expect(JSON.parse(done.result as string)).toEqual({
      ok: 140,
      workers: WORKERS,
      retried: 0,
      failed: [],
    });
  }, 90_000);

  it('keeps a run result up to the limit whole and fails one over it, saying why', async () => {
    const fits = await cluster.run({ processorName: 'big-result' }, { params: { chars: 65_536 } });
    const kept = await waitForInstance(cluster.app, fits.id, final);
    expect(kept.status).toBe('SUCCEEDED');
    expect(kept.result).toBe('r'.repeat(65_536));

    const over = await cluster.run({ processorName: 'big-result' }, { params: { chars: 70_000 } });
    const failed = await waitForInstance(cluster.app, over.id, final);
    expect(failed.status).toBe('FAILED');
    expect(failed.result).toMatch(
      /^run result too large: 70000 characters, over the 65536-character limit/,
    );
  });

  it('refuses params that can never fit run_job with a 400 naming the field and the sizes', async () => {
    const jobs = `/api/v1/apps/${cluster.app.name}/jobs`;
    const spec = { name: 'params', processorName: 'noop', timeExpressionType: 'API' };
    const tooBig = await cluster.app.api.post(jobs, { ...spec, jobParams: 'j'.repeat(600_000) });
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.error.issues).toEqual([
      { path: 'body.jobParams', message: expect.stringMatching(/600005 bytes.*524288/) },
    ]);

    const job = await cluster.app.api.post(jobs, { ...spec, jobParams: 'j'.repeat(400_000) });
    expect(job.status).toBe(201);
    const run = await cluster.app.api.post(`${jobs}/${job.body.id}/run`, {
      params: 'r'.repeat(200_000),
    });
    expect(run.status).toBe(400);
    expect(run.body.error.issues).toEqual([
      { path: 'body.params', message: expect.stringMatching(/600010 bytes.*524288/) },
    ]);
  });

  it('fails at once a run whose run_job cannot be sent, naming its size', async () => {
    // A run whose params grew past the limit after the API checked them (an
    // older row, a smaller max_payload): dispatch fails it instead of waiting
    // an hour for a worker.
    const run = await cluster.run({ processorName: 'noop' }, { delayMs: 1_500 });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(
        `UPDATE instances SET params = to_jsonb(repeat('x', 1100000)) WHERE id = $1`,
        [run.id],
      );
    } finally {
      await client.end();
    }
    const done = await waitForInstance(cluster.app, run.id, final, 10_000);
    expect(done.status).toBe('FAILED');
    expect(done.reason).toMatch(/run_job .*\d+ bytes, over .*max_payload/);
  });

  it('leaves everything settled and every worker alive', async () => {
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  });
});
