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
 * in arrival order as slots free. Every operation is O(1) (amortised).
 */
export class RunQueue {
  // The runs by id, each with the number of its place in `order`.
  private readonly runs = new Map<string, { run: RunJob; place: number }>();
  // Places in arrival order from `head` on; a place whose run was removed or
  // queued again since is skipped. (Not the Map's own order: taking its
  // first entry walks past every entry deleted before it, until V8 rebuilds
  // the table, so draining 50,000 queued runs took 430 ms.)
  private order: { id: string; place: number }[] = [];
  private head = 0;
  private places = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.runs.size;
  }

  get full(): boolean {
    return this.runs.size >= this.capacity;
  }

  get(instanceId: string): RunJob | undefined {
    return this.runs.get(instanceId)?.run;
  }

  /** Queues a run at the back (the caller checks `full`). */
  add(run: RunJob): void {
    const place = ++this.places;
    this.runs.set(run.instanceId, { run, place });
    this.order.push({ id: run.instanceId, place });
    // Places of removed runs add up when nothing is taken: dropped now and then.
    if (this.order.length - this.head > 2 * this.runs.size + 1_024) this.compact();
  }

  /** A newer epoch of a queued run: it keeps its place. */
  replace(run: RunJob): void {
    const queued = this.runs.get(run.instanceId);
    if (queued) queued.run = run;
    else this.add(run);
  }

  remove(instanceId: string): RunJob | undefined {
    const run = this.runs.get(instanceId)?.run;
    this.runs.delete(instanceId);
    return run;
  }

  /** Takes the oldest run, or undefined when empty. */
  next(): RunJob | undefined {
    while (this.head < this.order.length) {
      const { id, place } = this.order[this.head++] as { id: string; place: number };
      const queued = this.runs.get(id);
      if (queued?.place !== place) continue;
      this.runs.delete(id);
      if (this.head > 1_024 && this.head * 2 > this.order.length) this.compact();
      return queued.run;
    }
    this.order = [];
    this.head = 0;
    return undefined;
  }

  /** Empties the queue, oldest first (a drain hands them back). */
  takeAll(): RunJob[] {
    const all: RunJob[] = [];
    for (let run = this.next(); run; run = this.next()) all.push(run);
    return all;
  }

  ids(): IterableIterator<string> {
    return this.runs.keys();
  }

  /** Keeps only the places of runs still queued there. */
  private compact(): void {
    this.order = this.order
      .slice(this.head)
      .filter(({ id, place }) => this.runs.get(id)?.place === place);
    this.head = 0;
  }
}
