import type { ttMessages } from '@drover/protocol';
import type { z } from 'zod/v4';

type RunJob = z.output<typeof ttMessages.RunJob>;

/** Default bound of standalone runs a worker accepts beyond its running slots. */
export const DEFAULT_MAX_QUEUED_RUNS = 10_000;
/** Kept under the heartbeat's 100,000 tracked instances, with room for the running ones. */
export const MAX_QUEUED_RUNS_LIMIT = 90_000;

/**
 * Standalone runs a worker has accepted but not started (all its slots
 * busy), oldest first. Accepting a burst at once costs the server one
 * message and one write, not a refusal and a retry per run; the runs start
 * in arrival order as slots free. Every operation is O(1).
 */
export class RunQueue {
  // A Map keeps insertion order: its first entry is the oldest.
  private readonly runs = new Map<string, RunJob>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.runs.size;
  }

  get full(): boolean {
    return this.runs.size >= this.capacity;
  }

  get(instanceId: string): RunJob | undefined {
    return this.runs.get(instanceId);
  }

  /** Queues a run at the back (the caller checks `full`). */
  add(run: RunJob): void {
    this.runs.delete(run.instanceId);
    this.runs.set(run.instanceId, run);
  }

  /** A newer epoch of a queued run: it keeps its place. */
  replace(run: RunJob): void {
    this.runs.set(run.instanceId, run);
  }

  remove(instanceId: string): RunJob | undefined {
    const run = this.runs.get(instanceId);
    this.runs.delete(instanceId);
    return run;
  }

  /** Takes the oldest run, or undefined when empty. */
  next(): RunJob | undefined {
    const first = this.runs.values().next();
    if (first.done) return undefined;
    this.runs.delete(first.value.instanceId);
    return first.value;
  }

  /** Empties the queue, oldest first (a drain hands them back). */
  takeAll(): RunJob[] {
    const all = [...this.runs.values()];
    this.runs.clear();
    return all;
  }

  ids(): IterableIterator<string> {
    return this.runs.keys();
  }
}
