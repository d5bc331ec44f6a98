import type { InstanceStatus, JsonValue } from '@drover/protocol';
import type pg from 'pg';
import { inTransaction } from '../db/pool.js';
import type { JobSpec } from '../jobs/job-spec.js';
import type { Instance } from '../store/instance-row.js';
import {
  confirmAccepted,
  finish,
  lockUnfinished,
  scheduleRetry,
} from '../store/instance-transitions.js';
import { getInstance } from '../store/instances.js';
import { resultText } from '../store/storable-text.js';
import { retryDelayMs } from './retry-delay.js';

export interface Outcome {
  status: Extract<InstanceStatus, 'SUCCEEDED' | 'FAILED' | 'STOPPED'>;
  result?: JsonValue;
  reason?: string;
  progress?: Instance['progress'];
  /** The processor threw NonRetryableError: the run is not retried. */
  nonRetryable?: boolean;
  /** Reported by the run's TaskTracker, which proves it accepted the run. */
  fromTracker?: boolean;
  /** A workflow node's run: what it added to the workflow context (stored with the final state). */
  contextUpdate?: Record<string, JsonValue>;
}

// `started`: the run ended before its accept was recorded; this settle recorded
// it (RUNNING) first, so monitors see RUNNING before the end, as for any run.
export type Settled =
  | { kind: 'final'; instance: Instance; started?: Instance }
  | { kind: 'retry'; instance: Instance; started?: Instance }
  /** Already final with this epoch: a duplicate report, harmless. */
  | { kind: 'duplicate'; instance: Instance }
  /** Another epoch owns the instance, or it was final already. */
  | { kind: 'rejected'; reason: string; instance: Instance | null };

/**
 * Ends one run of an instance: a FAILED run is retried while the job's retry
 * policy allows, anything else is final. `epoch` null means any epoch (the
 * sweeper acting on what it read, re-checked under the row lock).
 */
export async function settle(
  pool: pg.Pool,
  id: string,
  epoch: number | null,
  outcome: Outcome,
): Promise<Settled> {
  // The common case (success from the current epoch) is one fenced UPDATE; the
  // locked path below only runs for failures (retry policy) and to classify misses.
  if (outcome.status !== 'FAILED' && epoch !== null) {
    const done = await finish(pool, id, epoch, outcome.status, outcome, {
      acceptRecorded: outcome.fromTracker === true,
    });
    if (done) return { kind: 'final', instance: done };
  }
  return inTransaction(pool, async (tx) => {
    const current = await lockUnfinished(tx, id);
    if (!current) {
      const done = await getInstance(tx, id);
      if (done && epoch !== null && done.epoch === epoch && done.status === outcome.status) {
        return { kind: 'duplicate', instance: done };
      }
      return {
        kind: 'rejected',
        reason: done ? `instance is already ${done.status}` : 'no such instance',
        instance: done,
      };
    }
    if (epoch !== null && current.epoch !== epoch) {
      return {
        kind: 'rejected',
        reason: `stale epoch ${epoch}, current is ${current.epoch}`,
        instance: current,
      };
    }
    // Its run at this epoch is already back in the queue (the retry a first
    // copy of this report scheduled, a hand-back): a copy must not use up a
    // retry or fail the next attempt.
    if (
      outcome.fromTracker &&
      outcome.status === 'FAILED' &&
      (current.status === 'WAITING_DISPATCH' || current.status === 'WAITING_WORKER')
    ) {
      return { kind: 'duplicate', instance: current };
    }
    const started =
      outcome.fromTracker && current.status === 'WAITING_WORKER_RECEIVE'
        ? ((await confirmAccepted(tx, id, current.epoch, outcome.progress ?? current.progress)) ??
          undefined)
        : undefined;
    if (outcome.status === 'FAILED') {
      // A workflow node's own retry policy replaces its job's.
      const { rows } = await tx.query<{ policy: JobSpec['instanceRetry'] | null }>(
        `SELECT coalesce(i.retry_policy, j.spec->'instanceRetry') AS policy
         FROM instances i JOIN jobs j ON j.id = i.job_id WHERE i.id = $1`,
        [current.id],
      );
      const policy = rows[0]?.policy;
      if (policy && !outcome.nonRetryable && current.runAttempt < policy.maximumAttempts) {
        const reason = `run ${current.runAttempt} failed: ${outcome.reason ?? (outcome.result === undefined ? 'unknown' : resultText(outcome.result))}`;
        const retried = await scheduleRetry(
          tx,
          id,
          current.epoch,
          retryDelayMs(policy, current.runAttempt),
          reason,
        );
        if (retried) return { kind: 'retry', instance: retried, started };
      }
    }
    const final = await finish(tx, id, current.epoch, outcome.status, outcome);
    if (!final)
      return { kind: 'rejected', reason: 'instance changed concurrently', instance: current };
    return { kind: 'final', instance: final, started };
  });
}
