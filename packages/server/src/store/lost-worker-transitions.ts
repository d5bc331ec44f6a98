import type { Queryable } from '../db/pool.js';
import { INSTANCE_COLUMNS, type Instance, type RawInstance, toInstance } from './instance-row.js';

// A run whose TaskTracker's worker was lost: dispatched again without using
// an instance retry (a lost worker is not a processor failure), a limited
// number of times per run. Each change is fenced by the epoch and worker the
// run was bound to, so it applies once however many servers see the loss.
// Bound means RUNNING, or accepted and not written RUNNING yet (a server
// holds accepts for a second): WAITING_WORKER_RECEIVE.

export interface RunOnWorker {
  id: string;
  epoch: number;
  app: string;
  workerId: string;
}

/** Runs whose TaskTracker is on one of these workers (RUNNING, or its accept not written yet). */
export async function runningOn(
  db: Queryable,
  workers: { app: string; workerId: string }[],
): Promise<RunOnWorker[]> {
  if (!workers.length) return [];
  const { rows } = await db.query<{ id: string; epoch: number; app: string; worker_id: string }>(
    `SELECT i.id, i.epoch, a.name AS app, i.worker_id
     FROM unnest($1::text[], $2::text[]) AS w(app, worker_id)
     JOIN apps a ON a.name = w.app
     JOIN instances i ON i.app_id = a.id AND i.worker_id = w.worker_id
       AND i.status IN ('WAITING_WORKER_RECEIVE', 'RUNNING')`,
    [workers.map((w) => w.app), workers.map((w) => w.workerId)],
  );
  return rows.map((r) => ({ id: r.id, epoch: r.epoch, app: r.app, workerId: r.worker_id }));
}

export type LostWorkerOutcome =
  | { kind: 'requeued'; instance: Instance }
  | { kind: 'failed'; instance: Instance }
  /** Not bound to that worker at that epoch any more (finished, or another server acted). */
  | { kind: 'moved' };

/**
 * Queues the run again at once under a new epoch (the old TaskTracker's
 * reports are stale from now on), or fails it once `limit` re-dispatches for
 * lost workers are used.
 */
export async function redispatchFromLostWorker(
  db: Queryable,
  run: RunOnWorker,
  limit: number,
): Promise<LostWorkerOutcome> {
  const requeued = await db.query<RawInstance>(
    `UPDATE instances SET status = 'WAITING_DISPATCH', epoch = epoch + 1, worker_id = NULL,
       deadline_at = NULL, next_dispatch_at = now(), due_at = now(), queued = false,
       lost_worker_redispatches = lost_worker_redispatches + 1,
       reason = 'worker ' || $3::text || ' was lost; dispatched again without using a retry ('
         || (lost_worker_redispatches + 1) || ' of ' || $4::int || ' for lost workers)'
     WHERE id = $1 AND epoch = $2 AND worker_id = $3
       AND status IN ('WAITING_WORKER_RECEIVE', 'RUNNING')
       AND lost_worker_redispatches < $4
     RETURNING ${INSTANCE_COLUMNS}`,
    [run.id, run.epoch, run.workerId, limit],
  );
  if (requeued.rows[0]) return { kind: 'requeued', instance: toInstance(requeued.rows[0]) };
  const failed = await db.query<RawInstance>(
    `UPDATE instances SET status = 'FAILED', finished_at = now(),
       reason = 'lost its worker ' || (lost_worker_redispatches + 1) || ' times (last: ' || $3::text
         || '); not dispatched again past ' || $4::int || ' re-dispatches for lost workers'
     WHERE id = $1 AND epoch = $2 AND worker_id = $3
       AND status IN ('WAITING_WORKER_RECEIVE', 'RUNNING')
       AND lost_worker_redispatches >= $4
     RETURNING ${INSTANCE_COLUMNS}`,
    [run.id, run.epoch, run.workerId, limit],
  );
  return failed.rows[0]
    ? { kind: 'failed', instance: toInstance(failed.rows[0]) }
    : { kind: 'moved' };
}
