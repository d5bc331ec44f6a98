import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDispatchSetup } from './support/dispatch-setup.js';
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

describe('an accept that was not recorded', () => {
  it('is recorded from the worker that runs it, not dispatched again', async () => {
    // No progress reports: only the sweeper can find out the run is under way.
    const w = await s.worker({ processors: ['unrecorded'], reportProgress: false });
    const instance = await s.run(await s.createJob({ processorName: 'unrecorded' }));
    await waitForInstance(s.app, instance.id, (i) => i.status === 'RUNNING');
    // As if the accept had been lost: still waiting for the worker, long past the accept bound.
    await sql.query(
      `UPDATE instances SET status = 'WAITING_WORKER_RECEIVE', started_at = NULL,
         dispatched_at = now() - interval '1 minute' WHERE id = $1`,
      [instance.id],
    );
    const started = await waitForInstance(s.app, instance.id, (i) => i.status === 'RUNNING');
    expect(started.epoch).toBe(1);
    await w.report({ instanceId: instance.id, epoch: 1 }, 'SUCCEEDED', 'once');
    const done = await waitForInstance(s.app, instance.id, (i) => i.status === 'SUCCEEDED');
    expect(done).toMatchObject({ epoch: 1, result: 'once' });
    expect(w.runs.map((r) => r.epoch)).toEqual([1]);
    expect(w.stops).toEqual([]);
  });

  it('is dispatched again when the bound worker does not run it', async () => {
    const w = await s.worker({ processors: ['forgotten'], reportProgress: false });
    const instance = await s.run(await s.createJob({ processorName: 'forgotten' }));
    await waitForInstance(s.app, instance.id, (i) => i.status === 'RUNNING');
    w.active.delete(instance.id); // its TaskTracker is gone
    await sql.query(
      `UPDATE instances SET status = 'WAITING_WORKER_RECEIVE', started_at = NULL,
         dispatched_at = now() - interval '1 minute' WHERE id = $1`,
      [instance.id],
    );
    await w.until(() => w.runs.filter((r) => r.instanceId === instance.id).length === 2);
    expect(w.runs.map((r) => r.epoch)).toEqual([1, 2]);
  });
});
