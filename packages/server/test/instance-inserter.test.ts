import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import {
  InstanceInserter,
  JobChangedError,
  type NewInstance,
} from '../src/store/instance-inserter.js';
import { pruneFinished } from '../src/store/instance-retention.js';
import { getInstance } from '../src/store/instances.js';
import { insertApp, insertJob } from './support/app-rows.js';

const db = useDatabase();
let pool: pg.Pool;
let appId: string;
let jobId: string;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  appId = (await insertApp(pool)).id;
  jobId = await insertJob(pool, appId);
});
afterAll(() => pool.end());

const run = (extra: Partial<NewInstance> = {}): NewInstance => ({
  appId,
  jobId,
  triggerType: 'API',
  ...extra,
});

describe('InstanceInserter', () => {
  it('writes 200 concurrent calls with far fewer INSERT statements, each call answered in order', async () => {
    const inserter = new InstanceInserter(pool);
    const calls = Array.from({ length: 200 }, (_, i) =>
      inserter.insert([run({ params: { call: i, at: 0 } }), run({ params: { call: i, at: 1 } })]),
    );
    const answers = await Promise.all(calls);
    // One statement for the first call, then each batch formed while one was in flight.
    expect(inserter.statements).toBeLessThan(200);
    answers.forEach((answer, i) => {
      expect(answer.map((a) => [a.created, a.instance.params])).toEqual([
        [true, { call: i, at: 0 }],
        [true, { call: i, at: 1 }],
      ]);
    });
    const ids = answers.flat().map((a) => BigInt(a.instance.id));
    expect(new Set(ids).size).toBe(400);
  });

  it('answers a repeated idempotency key with the first run, in one batch and across batches', async () => {
    const inserter = new InstanceInserter(pool);
    const [a, b] = await Promise.all([
      inserter.insert([run({ idempotencyKey: 'k1' }), run({ idempotencyKey: 'k1' }), run()]),
      inserter.insert([run({ idempotencyKey: 'k1' }), run({ idempotencyKey: 'k2' })]),
    ]);
    const first = a?.[0]?.instance.id;
    expect(a?.map((x) => [x.instance.id === first, x.created])).toEqual([
      [true, true],
      [true, false],
      [false, true],
    ]);
    expect(b?.map((x) => x.created)).toEqual([false, true]);
    expect(b?.[0]?.instance.id).toBe(first);
    const again = await inserter.insert([run({ idempotencyKey: 'k2' })]);
    expect(again[0]).toMatchObject({ created: false, instance: { id: b?.[1]?.instance.id } });
  });

  it('binds a claimed row to its worker at epoch 1 with its deadline; others wait', async () => {
    const inserter = new InstanceInserter(pool);
    const [claimed, waiting, delayed] = await inserter.insert([
      run({ claim: { workerId: 'w-1', timeoutMs: 60_000 } }),
      run(),
      run({ delayMs: 30_000 }),
    ]);
    expect(claimed?.instance).toMatchObject({
      status: 'WAITING_WORKER_RECEIVE',
      epoch: 1,
      workerId: 'w-1',
    });
    const c = claimed?.instance;
    expect(c?.dispatchedAt).toBeTypeOf('number');
    expect((c?.deadlineAt ?? 0) - (c?.dispatchedAt ?? 0)).toBe(60_000);
    expect(waiting?.instance).toMatchObject({
      status: 'WAITING_DISPATCH',
      epoch: 0,
      workerId: null,
      dispatchedAt: null,
      deadlineAt: null,
    });
    const d = delayed?.instance;
    expect((d?.nextDispatchAt ?? 0) - (d?.createdAt ?? 0)).toBe(30_000);
  });

  it('fails only the call whose row Postgres refuses, not the others of its batch', async () => {
    const inserter = new InstanceInserter(pool);
    const [good, bad, alsoGood] = await Promise.allSettled([
      inserter.insert([run({ params: 'good' })]),
      inserter.insert([run({ jobId: '999999999' })]), // no such job
      inserter.insert([run({ params: 'also good' })]),
    ]);
    expect(bad.status).toBe('rejected');
    expect(good.status === 'fulfilled' && good.value[0]?.instance.params).toBe('good');
    expect(alsoGood.status === 'fulfilled' && alsoGood.value[0]?.instance.params).toBe('also good');
  });

  it('adds a call built from an old version of its job nowhere, the other calls of its statement as usual', async () => {
    const { rows } = await pool.query<{ version: string }>(
      'SELECT version::text FROM jobs WHERE id = $1',
      [jobId],
    );
    const version = rows[0]?.version as string;
    const inserter = new InstanceInserter(pool);
    const [stale, fresh, unversioned] = await Promise.allSettled([
      inserter.insert([
        run({ jobVersion: String(BigInt(version) - 1n), params: 'stale', idempotencyKey: 'v' }),
        run({ jobVersion: String(BigInt(version) - 1n), params: 'stale' }),
      ]),
      inserter.insert([run({ jobVersion: version, params: 'fresh' })]),
      inserter.insert([run({ params: 'unversioned' })]),
    ]);
    expect(inserter.statements).toBeLessThan(3); // they shared a statement
    expect(stale.status === 'rejected' && stale.reason).toBeInstanceOf(JobChangedError);
    expect(fresh.status === 'fulfilled' && fresh.value[0]?.instance.params).toBe('fresh');
    expect(unversioned.status === 'fulfilled' && unversioned.value[0]?.instance.params).toBe(
      'unversioned',
    );
    const added = await pool.query(
      `SELECT count(*)::int AS n FROM instances WHERE job_id = $1 AND params = '"stale"'`,
      [jobId],
    );
    expect(added.rows[0].n).toBe(0);
    // Nothing of it holds its idempotency key: built anew from the job, it is added.
    const again = await inserter.insert([run({ jobVersion: version, idempotencyKey: 'v' })]);
    expect(again[0]?.created).toBe(true);
  });

  it('tells its hook of each batch’s created rows only, before the callers hear back', async () => {
    const seen: string[] = [];
    const inserter = new InstanceInserter(pool, (created) => {
      seen.push(...created.map((c) => c.instance.id));
    });
    const answer = await inserter.insert([run({ idempotencyKey: 'hook' }), run()]);
    expect(seen).toEqual(answer.map((a) => a.instance.id));
    await inserter.insert([run({ idempotencyKey: 'hook' })]);
    expect(seen).toHaveLength(2);
  });

  it('answers each new run exactly as it reads back from the database', async () => {
    const inserter = new InstanceInserter(pool);
    const [retried] = await inserter.insert([run()]);
    const answers = await inserter.insert([
      run({ params: { b: 1, a: [2, { c: null }] } }),
      run({ delayMs: 1_234.4, idempotencyKey: 'read-back' }),
      run({ claim: { workerId: 'w-1', timeoutMs: 60_000 }, retryOf: retried?.instance.id }),
      run({ claim: { workerId: 'w-2', timeoutMs: 0 }, triggerType: 'WORKFLOW' }),
    ]);
    for (const { instance } of answers) {
      expect(instance).toEqual(await getInstance(pool, instance.id));
    }
  });
});

describe('pruneFinished', () => {
  it('removes over 1,000 finished rows past retention in one call, with their logs, keeping recent ones', async () => {
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO instances (app_id, job_id, status, trigger_type, finished_at, retry_of)
       SELECT $1, $2, 'SUCCEEDED', 'API', now() - interval '2 days', NULL FROM generate_series(1, 12000)
       RETURNING id`,
      [appId, jobId],
    );
    // Retries of pruned runs lose their link, not their row.
    await pool.query(
      `INSERT INTO instances (app_id, job_id, status, trigger_type, finished_at, retry_of)
       SELECT $1, $2, 'SUCCEEDED', 'API', now(), id FROM instances WHERE id = ANY($3::bigint[])`,
      [appId, jobId, rows.slice(0, 10).map((r) => r.id)],
    );
    await pool.query(
      `INSERT INTO instance_logs (instance_id, batch_id, line_no, ts, level, message, worker_id)
       SELECT id, 'b', 0, now(), 'info', 'old line', 'w' FROM instances WHERE id = ANY($1::bigint[])`,
      [rows.map((r) => r.id)],
    );
    const pruned = await pruneFinished(pool, 24 * 3_600_000, 60_000);
    expect(pruned).toBe(12_000);
    const left = await pool.query<{ n: number; logs: number; linked: number }>(
      `SELECT (SELECT count(*)::int FROM instances WHERE finished_at < now() - interval '1 day') AS n,
              (SELECT count(*)::int FROM instance_logs) AS logs,
              (SELECT count(*)::int FROM instances WHERE retry_of = ANY($1::bigint[])) AS linked`,
      [rows.map((r) => r.id)],
    );
    expect(left.rows[0]).toEqual({ n: 0, logs: 0, linked: 0 });
    expect(
      (
        await pool.query(
          `SELECT count(*)::int AS n FROM instances WHERE finished_at > now() - interval '1 hour'`,
        )
      ).rows[0].n,
    ).toBeGreaterThanOrEqual(10);
  });
});
