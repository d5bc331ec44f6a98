import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import { claimMany, finishMany, markAcceptedMany } from '../src/store/instance-transitions.js';
import { insertApp, insertJob, insertRuns } from './support/app-rows.js';

// Servers claim, accept and end overlapping batches of the same runs at once
// (two servers seeing one CRON slot, a final racing its held accept). Each
// batch takes its row locks in id order whatever order it was given, so none
// deadlocks (Postgres would end one after a second), and each run is claimed
// and ended once.

const db = useDatabase();
const CONNECTIONS = 4;
const ROUNDS = 5;
const RUNS = 300;
const BATCH = 200;
let pool: pg.Pool;
let app: string;
let appId: string;
let jobId: string;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: CONNECTIONS + 1 });
  ({ name: app, id: appId } = await insertApp(pool));
  jobId = await insertJob(pool, appId);
});
afterAll(() => pool.end());

/** A random `n` of `ids`, in random order. */
function shuffled(ids: string[], n: number): string[] {
  const out = [...ids];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as string, out[i] as string];
  }
  return out.slice(0, n);
}

/** Runs `batch` once per connection at the same time; the rejections, and the ids each returned. */
async function together(batch: () => Promise<string[]>) {
  const settled = await Promise.allSettled(Array.from({ length: CONNECTIONS }, batch));
  const errors = settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
  const ids = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : []));
  return { errors, ids };
}

describe('batches over the same runs at once', () => {
  it('never deadlock, and claim and end each run once', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const ids = await insertRuns(pool, appId, jobId, 'WAITING_DISPATCH', RUNS);
      const claims = await together(async () => {
        const claimed = await claimMany(
          pool,
          shuffled(ids, BATCH).map((id) => ({ id, workerId: 'w-1', timeoutMs: 0 })),
        );
        return [...claimed.keys()];
      });
      expect(claims.errors).toEqual([]);
      expect(new Set(claims.ids).size).toBe(claims.ids.length);
      // Accepts and finals of the same runs race each other.
      const ends = await together(async () => {
        const batch = shuffled(claims.ids, BATCH);
        const [, ended] = await Promise.all([
          markAcceptedMany(
            pool,
            batch.map((id) => ({ id, epoch: 1 })),
          ),
          finishMany(
            pool,
            app,
            shuffled(batch, BATCH).map((id) => ({ id, epoch: 1, status: 'SUCCEEDED' as const })),
          ),
        ]);
        return ended.map((e) => e.instance.id);
      });
      expect(ends.errors).toEqual([]);
      expect(new Set(ends.ids).size).toBe(ends.ids.length);
    }
  }, 60_000);
});
