import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../../test/harness/fixtures.js';
import { useDispatchSetup } from './support/dispatch-setup.js';
import { createTestApp, waitForInstance } from './support/server-fixture.js';

// One app's row the sweeper cannot settle (here a retry interval no
// timestamp holds, written straight into the database) must not keep it from
// settling every other app's lost runs.

const s = useDispatchSetup();
let sql: pg.Client;

beforeAll(async () => {
  sql = new pg.Client({ connectionString: s.db.url });
  await sql.connect();
});
afterAll(() => sql.end());

/** A RUNNING instance of `jobId` whose TaskTracker has been silent for a minute. */
async function lostRun(jobId: string): Promise<string> {
  const { rows } = await sql.query(
    `INSERT INTO instances (app_id, job_id, status, trigger_type, epoch, worker_id, dispatched_at,
       started_at, last_report_at, next_dispatch_at)
     SELECT app_id, id, 'RUNNING', 'API', 1, 'gone', now() - interval '1 minute',
       now() - interval '1 minute', now() - interval '1 minute', now() - interval '1 minute'
     FROM jobs WHERE id = $1 RETURNING id`,
    [jobId],
  );
  return rows[0].id as string;
}

describe('sweeper', () => {
  it('settles other apps’ lost runs while one app’s run cannot be settled', async () => {
    const badJob = await s.createJob({ instanceRetry: { maximumAttempts: 2 } });
    await sql.query(
      `UPDATE jobs SET spec = jsonb_set(jsonb_set(spec, '{instanceRetry,initialIntervalMs}', '1e300'),
         '{instanceRetry,maximumIntervalMs}', '1e300') WHERE id = $1`,
      [badJob],
    );
    const bad = await lostRun(badJob);

    const other = await createTestApp(s.server, uniqueName('app'));
    const job = await other.api.post(`/api/v1/apps/${other.name}/jobs`, {
      name: uniqueName('job'),
      processorName: 'noop',
      timeExpressionType: 'API',
    });
    const good = await lostRun(job.body.id);

    const settled = await waitForInstance(other, good, (i) => i.status === 'FAILED');
    expect(settled.reason).toMatch(/silent/);
    expect((await waitForInstance(s.app, bad, () => true)).status).toBe('RUNNING');
  });
});
