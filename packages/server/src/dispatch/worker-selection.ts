import type { JobSpec } from '../jobs/job-spec.js';
import type { WorkerInfo } from './worker-registry.js';

type Requirements = Pick<
  JobSpec,
  | 'processorName'
  | 'designatedWorkers'
  | 'tags'
  | 'dispatchStrategy'
  | 'minCpuCores'
  | 'minMemoryMb'
  | 'maxWorkerCount'
>;

/** Why no worker qualified, for the instance's `reason`. */
export interface Selection {
  /** Workers in the order to try as TaskTracker; the first `maxWorkerCount` also run tasks. */
  ordered: WorkerInfo[];
  reason?: string;
  /** Workers are alive and eligible, but none has the processor (likely a typo in the job). */
  unknownProcessor?: boolean;
}

function freeMemoryMb(w: WorkerInfo): number {
  return (w.metrics.memoryTotalBytes - w.metrics.memoryUsedBytes) / (1024 * 1024);
}

function health(w: WorkerInfo): number {
  const slots = w.metrics.totalSlots > 0 ? w.metrics.freeSlots / w.metrics.totalSlots : 0;
  return slots - Math.min(w.metrics.cpuLoad, 2) / 2;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** The workers a job may run on (its requirements and its processor), or why none. */
export interface Eligible {
  workers: WorkerInfo[];
  reason?: string;
  unknownProcessor?: boolean;
}

/** Alive workers that meet the job's requirements and have its processor. */
export function eligibleWorkers(alive: WorkerInfo[], job: Requirements): Eligible {
  if (alive.length === 0) return { workers: [], reason: 'no worker of this app is alive' };
  const eligible = alive.filter(
    (w) =>
      (job.designatedWorkers.length === 0 || job.designatedWorkers.includes(w.workerId)) &&
      job.tags.every((t) => w.tags.includes(t)) &&
      w.metrics.cpuCores >= job.minCpuCores &&
      freeMemoryMb(w) >= job.minMemoryMb,
  );
  if (eligible.length === 0) {
    return {
      workers: [],
      reason: 'no alive worker matches designatedWorkers, tags, minCpuCores and minMemoryMb',
    };
  }
  const withProcessor = eligible.filter((w) => w.processors.includes(job.processorName));
  if (withProcessor.length === 0) {
    return {
      workers: [],
      reason: `no alive worker has a processor named "${job.processorName}"`,
      unknownProcessor: true,
    };
  }
  return { workers: withProcessor };
}

/**
 * Filters alive workers by the job's requirements, then orders them by its
 * dispatch strategy. Overloaded workers (no free slot) go last, not away:
 * a busy cluster still makes progress.
 */
export function selectWorkers(
  alive: WorkerInfo[],
  job: Requirements,
  random = Math.random,
): Selection {
  const { workers, reason, unknownProcessor } = eligibleWorkers(alive, job);
  if (workers.length === 0) return { ordered: [], reason, unknownProcessor };
  const ordered =
    job.dispatchStrategy === 'RANDOM'
      ? shuffle([...workers], random)
      : [...workers].sort((a, b) => health(b) - health(a));
  const ready = ordered.filter((w) => w.metrics.freeSlots > 0);
  const busy = ordered.filter((w) => w.metrics.freeSlots === 0);
  const all = [...ready, ...busy];
  return { ordered: job.maxWorkerCount > 0 ? all.slice(0, job.maxWorkerCount) : all };
}

/**
 * The first worker `selectWorkers` would order among eligible ones, found
 * in one pass (a run's pick at insert, made for each of a call's runs).
 */
export function bestWorker(
  eligible: readonly WorkerInfo[],
  strategy: Requirements['dispatchStrategy'],
  random = Math.random,
): WorkerInfo | undefined {
  if (strategy === 'RANDOM') {
    const ready = eligible.filter((w) => w.metrics.freeSlots > 0);
    const pool = ready.length ? ready : eligible;
    return pool[Math.floor(random() * pool.length)];
  }
  // The healthiest with a free slot, else the healthiest; strictly better
  // only, so on a tie the earlier one, as the stable sort keeps it first.
  let ready: WorkerInfo | undefined;
  let any: WorkerInfo | undefined;
  for (const w of eligible) {
    if (!any || health(w) > health(any)) any = w;
    if (w.metrics.freeSlots > 0 && (!ready || health(w) > health(ready))) ready = w;
  }
  return ready ?? any;
}
