import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDispatchSetup } from './support/dispatch-setup.js';
import { waitForInstance } from './support/server-fixture.js';

const s = useDispatchSetup({ waitingGiveUpMs: 3_000, retentionMs: 24 * 3_600_000 });
let sql: pg.Client;

beforeAll(async () => {
  sql = new pg.Client({ connectionString: s.db.url });
  await sql.connect();
});
afterAll(() => sql.end());

describe('sweeper', () => {
  it('fails a run whose TaskTracker vanished, with the reason', async () => {
    const w = await s.worker({ processors: ['vanishing'] });
    const instance = await s.run(await s.createJob({ processorName: 'vanishing' }));
    await waitForInstance(s.app, instance.id, (i) => i.status === 'RUNNING');
    await w.vanish();
    const failed = await waitForInstance(s.app, instance.id, (i) => i.status === 'FAILED');
    expect(failed.reason).toMatch(/silent/);
    expect(failed.finishedAt).toBeTypeOf('number');
  });

  it('retries a failed run under the job’s retry policy, then succeeds elsewhere', async () => {
    const first = await s.worker({ processors: ['retried'] });
    const jobId = await s.createJob({
      processorName: 'retried',
      instanceRetry: { maximumAttempts: 2, initialIntervalMs: 100 },
    });
    const instance = await s.run(jobId);
    await first.until(() => first.runs.some((r) => r.instanceId === instance.id));
    await first.vanish();
    const second = await s.worker({ processors: ['retried'] });
    await second.until(() => second.runs.some((r) => r.instanceId === instance.id));
    const run = second.runs.find((r) => r.instanceId === instance.id);
    expect(run?.epoch).toBeGreaterThan(1);
    await second.report({ instanceId: instance.id, epoch: run?.epoch as number }, 'SUCCEEDED');
    const done = await waitForInstance(s.app, instance.id, (i) => i.status === 'SUCCEEDED');
    expect(done.runAttempt).toBe(2);
  });

  it('fails a run past its timeout and stops its TaskTracker', async () => {
    const w = await s.worker({ processors: ['slow'] });
    const instance = await s.run(
      await s.createJob({ processorName: 'slow', instanceTimeoutMs: 500 }),
    );
    const failed = await waitForInstance(s.app, instance.id, (i) => i.status === 'FAILED');
    expect(failed.reason).toMatch(/timed out/);
    await w.until(() => w.stops.some((x) => x.instanceId === instance.id));
  });

  it('fails a run past its timeout whose accept is not written yet (held), and stops its TaskTracker', async () => {
    const w = await s.worker({ processors: ['held-slow'], reportProgress: false });
    const jobId = await s.createJob({ processorName: 'held-slow' });
    // Accepted by a live worker, its accept not written (a server holds it a second), past its deadline.
    const { rows } = await sql.query(
      `INSERT INTO instances (app_id, job_id, status, trigger_type, epoch, worker_id, dispatched_at, deadline_at)
       SELECT app_id, id, 'WAITING_WORKER_RECEIVE', 'API', 1, $2, now(), now()
       FROM jobs WHERE id = $1 RETURNING id`,
      [jobId, w.options.workerId],
    );
    const id = rows[0].id as string;
    // Well within the accept timeout (6.5 s), after which the lost-accept check would act instead.
    const failed = await waitForInstance(s.app, id, (i) => i.status === 'FAILED', 4_000);
    expect(failed.reason).toMatch(/timed out/);
    await w.until(() => w.stops.some((x) => x.instanceId === id));
  });

  it('dispatches again when a dispatch was never confirmed (server died after claiming)', async () => {
    const w = await s.worker({ processors: ['orphan'] });
    const jobId = await s.createJob({ processorName: 'orphan' });
    // As if a server bound the run to a worker under epoch 1 and died before asking it.
    const { rows } = await sql.query(
      `INSERT INTO instances (app_id, job_id, status, trigger_type, epoch, worker_id, dispatched_at, next_dispatch_at)
       SELECT app_id, id, 'WAITING_WORKER_RECEIVE', 'API', 1, 'dead-worker', now() - interval '1 minute', now()
       FROM jobs WHERE id = $1 RETURNING id`,
      [jobId],
    );
    const id = rows[0].id as string;
    await w.until(() => w.runs.some((r) => r.instanceId === id));
    expect(w.runs.find((r) => r.instanceId === id)?.epoch).toBe(2);
    await waitForInstance(s.app, id, (i) => i.status === 'RUNNING');
  });

  it('dispatches a run whose timer was lost (server died after creating it)', async () => {
    const w = await s.worker({ processors: ['late'] });
    const jobId = await s.createJob({ processorName: 'late' });
    const { rows } = await sql.query(
      `INSERT INTO instances (app_id, job_id, status, trigger_type, next_dispatch_at)
       SELECT app_id, id, 'WAITING_DISPATCH', 'API', now() - interval '30 seconds' FROM jobs WHERE id = $1 RETURNING id`,
      [jobId],
    );
    await w.until(() => w.runs.some((r) => r.instanceId === rows[0].id));
  });

  it('fails a run no worker took within the give-up bound', async () => {
    const instance = await s.run(await s.createJob({ processorName: 'no-such-processor' }));
    const failed = await waitForInstance(s.app, instance.id, (i) => i.status === 'FAILED');
    expect(failed.reason).toMatch(/not started within 3000 ms/);
  });

  it('prunes finished instances past retention, with their logs', async () => {
    const jobId = await s.createJob();
    const { rows } = await sql.query(
      `INSERT INTO instances (app_id, job_id, status, trigger_type, finished_at)
       SELECT app_id, id, 'SUCCEEDED', 'API', now() - t FROM jobs, unnest(ARRAY[interval '2 days', interval '1 hour']) t
       WHERE id = $1 RETURNING id`,
      [jobId],
    );
    const [old, recent] = rows.map((r) => r.id as string);
    await sql.query(
      `INSERT INTO instance_logs (instance_id, batch_id, line_no, ts, level, message, worker_id)
       VALUES ($1, 'b', 0, now(), 'info', 'old line', 'w')`,
      [old],
    );
    await waitForInstance(s.app, recent as string, () => true);
    for (;;) {
      const left = await sql.query('SELECT id FROM instances WHERE id = ANY($1)', [[old, recent]]);
      if (left.rows.length === 1) {
        expect(left.rows[0].id).toBe(recent);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(
      (
        await sql.query('SELECT count(*)::int AS n FROM instance_logs WHERE instance_id = $1', [
          old,
        ])
      ).rows[0].n,
    ).toBe(0);
  });
});
