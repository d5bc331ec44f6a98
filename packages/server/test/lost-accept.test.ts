import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDispatchSetup } from './support/dispatch-setup.js';
import type { FakeWorker, FakeWorkerOptions } from './support/fake-worker.js';
import { waitForInstance } from './support/server-fixture.js';

// A worker accepted a run but the server could not record it (Postgres away
// as it wrote the accept, or the server died): the sweeper must not dispatch
// it again while that worker runs it, or it executes twice.

// Silence is not what this is about: runs here report only when the test says.
const s = useDispatchSetup({ silentMs: 60_000 });
let sql: pg.Client;

beforeAll(async () => {
  sql = new pg.Client({ connectionString: s.db.url });
  await sql.connect();
});
afterAll(() => sql.end());

/**
 * A run RUNNING on a new fake worker (which reports no progress: only the
 * sweeper can find out the run is under way), then as if its accept had been
 * lost: still waiting for the worker, long past the accept bound.
 */
async function lostAccept(
  processor: string,
  options: Partial<FakeWorkerOptions> = {},
  beforeLoss?: (w: FakeWorker, instanceId: string) => void,
): Promise<{ w: FakeWorker; instance: { id: string } }> {
  const w = await s.worker({ processors: [processor], reportProgress: false, ...options });
  const instance = await s.run(await s.createJob({ processorName: processor }));
  await waitForInstance(s.app, instance.id, (i) => i.status === 'RUNNING');
  beforeLoss?.(w, instance.id);
  await sql.query(
    `UPDATE instances SET status = 'WAITING_WORKER_RECEIVE', started_at = NULL,
         dispatched_at = now() - interval '1 minute' WHERE id = $1`,
    [instance.id],
  );
  return { w, instance };
}

describe('an accept that was not recorded', () => {
  it('is recorded from the worker that runs it, not dispatched again', async () => {
    const { w, instance } = await lostAccept('unrecorded');
    const started = await waitForInstance(s.app, instance.id, (i) => i.status === 'RUNNING');
    expect(started.epoch).toBe(1);
    await w.report({ instanceId: instance.id, epoch: 1 }, 'SUCCEEDED', 'once');
    const done = await waitForInstance(s.app, instance.id, (i) => i.status === 'SUCCEEDED');
    expect(done).toMatchObject({ epoch: 1, result: 'once' });
    expect(w.runs.map((r) => r.epoch)).toEqual([1]);
    expect(w.stops).toEqual([]);
  });

  it('is dispatched again when the bound worker does not run it', async () => {
    // Its TaskTracker is gone.
    const { w, instance } = await lostAccept('forgotten', {}, (w, id) => w.active.delete(id));
    await w.until(() => w.runs.filter((r) => r.instanceId === instance.id).length === 2);
    expect(w.runs.map((r) => r.epoch)).toEqual([1, 2]);
  });

  it('asked of a hung worker, does not hold up the sweeper’s other judgements', async () => {
    const { w, instance } = await lostAccept('unanswered', { hangStatusQueries: true });
    // The sweeper now waits for the worker's answer (until its ask times out, 3 s)…
    await w.until(() => w.statusQueries > 0);
    // …while another run is past its deadline.
    const { rows } = await sql.query(
      `INSERT INTO instances (app_id, job_id, status, trigger_type, epoch, worker_id, dispatched_at,
         started_at, last_report_at, deadline_at, next_dispatch_at)
       SELECT app_id, id, 'RUNNING', 'API', 1, 'gone', now(), now(), now(),
         now() - interval '1 second', now()
       FROM jobs WHERE id = $1 RETURNING id`,
      [await s.createJob()],
    );
    const late = await waitForInstance(s.app, rows[0].id, (i) => i.status === 'FAILED');
    expect(late.reason).toMatch(/timed out/);
    // The unanswered check is still under way: the run is as it was.
    const waiting = await waitForInstance(s.app, instance.id, () => true);
    expect(waiting).toMatchObject({ status: 'WAITING_WORKER_RECEIVE', epoch: 1 });
  });
});
