import type { Instance } from '@drover/client';
import { FINAL_INSTANCE_STATUSES } from '@drover/protocol';

export interface HistoryEntry {
  status: string;
  /** When it entered that status (epoch ms), or null when only the current status is known. */
  at: number | null;
  workerId?: string | null;
}

/** What the history needs of an instance event. */
export interface StatusEventLike {
  status: string;
  at: number;
  workerId: string | null;
}

/** A timestamp and an event for the same step are this close (clocks of two processes). */
const SAME_STEP_MS = 2_000;

const FINAL: readonly string[] = FINAL_INSTANCE_STATUSES;

/**
 * A run's status history: the steps its timestamps record (created, handed to a
 * worker, started, finished; a redispatch keeps only the latest of each) merged
 * with the instance events seen live (which also show the steps the timestamps
 * overwrote). Oldest first; the current status is always last.
 */
export function deriveStatusHistory(
  instance: Pick<
    Instance,
    'status' | 'createdAt' | 'dispatchedAt' | 'startedAt' | 'finishedAt' | 'workerId'
  >,
  events: readonly StatusEventLike[] = [],
): HistoryEntry[] {
  const entries: HistoryEntry[] = [{ status: 'WAITING_DISPATCH', at: instance.createdAt }];
  if (instance.dispatchedAt !== null)
    entries.push({
      status: 'WAITING_WORKER_RECEIVE',
      at: instance.dispatchedAt,
      workerId: instance.workerId,
    });
  if (instance.startedAt !== null)
    entries.push({ status: 'RUNNING', at: instance.startedAt, workerId: instance.workerId });
  if (instance.finishedAt !== null && FINAL.includes(instance.status))
    entries.push({ status: instance.status, at: instance.finishedAt });

  for (const event of events) {
    const twin = entries.find(
      (e) =>
        e.status === event.status && e.at !== null && Math.abs(e.at - event.at) <= SAME_STEP_MS,
    );
    if (twin) twin.workerId ??= event.workerId;
    else entries.push({ status: event.status, at: event.at, workerId: event.workerId });
  }
  entries.sort((a, b) => (a.at ?? Number.POSITIVE_INFINITY) - (b.at ?? Number.POSITIVE_INFINITY));

  // The instance as last read is the truth about where it is now.
  if (entries.at(-1)?.status !== instance.status) {
    const final = FINAL.includes(instance.status);
    const at = final ? instance.finishedAt : null;
    // A final status seen in an event but older than a later step is moved last.
    const index = entries.findIndex((e) => e.status === instance.status && final);
    if (index !== -1) entries.push(...entries.splice(index, 1));
    else entries.push({ status: instance.status, at });
  }
  return entries;
}
