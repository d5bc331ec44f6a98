import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import { JobCache } from '../src/store/job-cache.js';
import { insertApp, insertJob } from './support/app-rows.js';

// The jobs a server keeps for adding runs: bounded by bytes (a job's
// jobParams may take 512 KiB), read again when asked `fresh`, and each edit
// bumps the job's version, whoever makes it (a trigger).

const db = useDatabase();
let pool: pg.Pool;
let appId: string;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  appId = (await insertApp(pool)).id;
});
afterAll(() => pool.end());

const job = (jobParams: unknown) => insertJob(pool, appId, { jobParams });

describe('JobCache', () => {
  it('keeps at most its bytes, counting jobParams: the oldest go first', async () => {
    const big = 'x'.repeat(100_000);
    const cache = new JobCache(pool, 450_000);
    const ids = [await job(big), await job(big), await job(big), await job(big), await job(big)];
    for (const id of ids) await cache.get(appId, id);
    expect(cache.size).toBeLessThanOrEqual(450_000);
    expect(cache.size).toBeGreaterThan(300_000);
  });

  it('reads a job again when asked fresh; an edit by any writer bumps its version', async () => {
    const id = await job('v1');
    const cache = new JobCache(pool);
    const first = await cache.get(appId, id);
    await pool.query(
      `UPDATE jobs SET spec = jsonb_set(spec, '{jobParams}', '"v2"') WHERE id = $1`,
      [id],
    );
    expect((await cache.get(appId, id))?.version).toBe(first?.version); // kept
    const fresh = await cache.get(appId, id, true);
    expect(fresh?.spec.jobParams).toBe('v2');
    expect(BigInt(fresh?.version as string)).toBe(BigInt(first?.version as string) + 1n);
    // The scheduler moving the next trigger is no edit.
    await pool.query('UPDATE jobs SET next_trigger_at = now() WHERE id = $1', [id]);
    expect((await cache.get(appId, id, true))?.version).toBe(fresh?.version);
    expect(await cache.get(appId, '999999999')).toBeNull();
  });
});
