import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import { redispatchFromLostWorker, runningOn } from '../src/store/lost-worker-transitions.js';
import { insertApp, insertJob } from './support/app-rows.js';

// A lost worker's runs are queued again: those RUNNING on it, and those it
// accepted whose accept the server still held (WAITING_WORKER_RECEIVE bound
// to it); a run bound elsewhere or waiting is left alone.

const db = useDatabase();
let pool: pg.Pool;
let app: string;
let appId: string;
let jobId: string;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  ({ name: app, id: appId } = await insertApp(pool));
  jobId = await insertJob(pool, appId);
});
afterAll(() => pool.end());

async function run(status: string, workerId: string | null): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO instances (app_id, job_id, status, trigger_type, epoch, worker_id, dispatched_at)
     VALUES ($1, $2, $3, 'API', 1, $4, now()) RETURNING id`,
    [appId, jobId, status, workerId],
  );
  return rows[0]?.id as string;
}

describe('lost worker transitions', () => {
  it('queue again the runs RUNNING on the lost worker and those whose accept was not written yet', async () => {
    const running = await run('RUNNING', 'lost-1');
    const held = await run('WAITING_WORKER_RECEIVE', 'lost-1');
    await run('RUNNING', 'alive-1');
    await run('WAITING_DISPATCH', null);
    const found = await runningOn(pool, [{ app, workerId: 'lost-1' }]);
    expect(found.map((r) => r.id).sort()).toEqual([running, held].sort());
    for (const r of found) {
      const outcome = await redispatchFromLostWorker(pool, r, 3);
      expect(outcome.kind).toBe('requeued');
      if (outcome.kind === 'requeued') {
        expect(outcome.instance.status).toBe('WAITING_DISPATCH');
        expect(outcome.instance.epoch).toBe(2);
      }
    }
  });
});
