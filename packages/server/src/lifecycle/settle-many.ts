import type pg from 'pg';
import type { Instance } from '../store/instance-row.js';
import { type FinalRow, finishMany } from '../store/instance-transitions.js';
import { type Settled, settle } from './settle.js';

/**
 * A report's fate in the batch: ended by it, a duplicate of one already
 * final, or a leftover the caller checks (its app) and settles alone.
 */
export type BatchSettled =
  | { kind: 'final'; instance: Instance; started?: Instance }
  | { kind: 'duplicate' }
  | { kind: 'leftover' };

/**
 * Ends a batch of one app's final reports. The common case (the current
 * epoch's SUCCEEDED or STOPPED, a FAILED with no retry left) is ONE fenced
 * UPDATE for the whole batch; the rest is classified by one SELECT (already
 * final with this epoch and status: a duplicate, e.g. a retried batch) and
 * what is still undecided (retries, stale epochs, another app's ids) is left
 * to `settle`, run by run, so every answer is what `settle` gives.
 */
export async function settleMany(
  pool: pg.Pool,
  app: string,
  finals: FinalRow[],
): Promise<BatchSettled[]> {
  const ended = new Map<string, { instance: Instance; was: string }>();
  for (const e of await finishMany(pool, app, finals)) ended.set(e.instance.id, e);
  const rest = finals.filter((f) => !ended.has(f.id));
  const finalNow = rest.length ? await finalRows(pool, app, rest) : new Map<string, Final>();
  const answered = new Set<string>();
  return finals.map((f): BatchSettled => {
    const e = ended.get(f.id);
    // The same report twice in one batch: the second is its duplicate.
    if (e && !answered.has(f.id)) {
      answered.add(f.id);
      // Never recorded RUNNING (its accept or first beat not written): monitors see RUNNING first.
      const started =
        e.was === 'WAITING_WORKER_RECEIVE'
          ? { ...e.instance, status: 'RUNNING' as const, finishedAt: null, result: null }
          : undefined;
      return { kind: 'final', instance: e.instance, started };
    }
    const done = finalNow.get(f.id) ?? e?.instance;
    if (done && done.epoch === f.epoch && done.status === f.status) return { kind: 'duplicate' };
    return { kind: 'leftover' };
  });
}

type Final = Pick<Instance, 'epoch' | 'status'>;

/** The batch's instances of this app that are final now. */
async function finalRows(
  pool: pg.Pool,
  app: string,
  finals: FinalRow[],
): Promise<Map<string, Final>> {
  const { rows } = await pool.query<Final & { id: string }>(
    `SELECT i.id, i.epoch, i.status FROM instances i JOIN apps a ON a.id = i.app_id
     WHERE i.id = ANY($1::bigint[]) AND a.name = $2
       AND i.status IN ('SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED')`,
    [finals.map((f) => f.id), app],
  );
  return new Map(rows.map((r) => [r.id, { epoch: r.epoch, status: r.status }]));
}

/** Settles one leftover report as `report_instance_status` does. */
export function settleOne(pool: pg.Pool, f: FinalRow): Promise<Settled> {
  return settle(pool, f.id, f.epoch, {
    status: f.status,
    result: f.result,
    progress: f.progress,
    nonRetryable: f.status === 'FAILED' && f.nonRetryable === true,
    fromTracker: true,
    contextUpdate: f.contextUpdate,
  });
}
