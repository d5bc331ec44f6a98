import { monotonicMs, type ttMessages } from '@drover/protocol';
import type { z } from 'zod/v4';

type RunJob = z.output<typeof ttMessages.RunJob>;

/** A held run, with what was made for it ahead of its time (`prepared`). */
export interface HeldRun<P> {
  run: RunJob;
  prepared: P | undefined;
}

/**
 * Takes held runs a little before their time (`leadMs`) to get them ready:
 * `take` says whether it did (it then owns the run and starts its processor
 * at `at`, its exact time, not before); the others are handed to `due` at
 * their time.
 */
export interface EarlyTake<P> {
  leadMs: number;
  take(held: HeldRun<P>, at: number): boolean;
}

/**
 * Runs accepted ahead of their time (`startInMs`), held until then. Runs due
 * in the same millisecond share one timer, and are handed to `due` together
 * in arrival order: a fleet of CRON jobs firing at once starts in one turn.
 * `prepared` is what the worker built while it waited (its TaskTracker);
 * with `early`, such runs are handed over `leadMs` before their time, so the
 * worker's own work for 1,000 runs is done by then and only the processors'
 * starts are left for the due moment.
 */
export class TimedRuns<P = never> {
  /** Each with its own time (`startAt`, to the µs); its bucket is that time's whole ms (`bucketOf`). */
  private readonly runs = new Map<string, HeldRun<P> & { startAt: number }>();
  private readonly buckets = new Map<number, { ids: string[]; timer: NodeJS.Timeout }>();

  constructor(
    private readonly due: (runs: HeldRun<P>[]) => void,
    private readonly early?: EarlyTake<P>,
  ) {}

  get size(): number {
    return this.runs.size;
  }

  get(instanceId: string): RunJob | undefined {
    return this.runs.get(instanceId)?.run;
  }

  /** Holds `run` until `startAt` (monotonic ms). */
  add(run: RunJob, startAt: number, prepared?: P): void {
    const at = bucketOf(startAt);
    this.runs.set(run.instanceId, { run, startAt, prepared });
    const bucket = this.buckets.get(at);
    if (bucket) {
      bucket.ids.push(run.instanceId);
      return;
    }
    const lead = this.early?.leadMs ?? 0;
    const timer = setTimeout(
      () => (lead > 0 ? this.fireEarly(at) : this.fire(at)),
      Math.max(0, at - lead - monotonicMs()),
    );
    this.buckets.set(at, { ids: [run.instanceId], timer });
  }

  /** A newer epoch of a held run: it keeps its time (what was prepared for the old one goes). */
  replace(run: RunJob): void {
    const held = this.runs.get(run.instanceId);
    if (held) {
      held.run = run;
      held.prepared = undefined;
    }
  }

  remove(instanceId: string): RunJob | undefined {
    const held = this.runs.get(instanceId);
    this.runs.delete(instanceId); // its bucket skips it when it fires
    return held?.run;
  }

  ids(): IterableIterator<string> {
    return this.runs.keys();
  }

  /** Empties it (a drain hands them back), clearing the timers. */
  takeAll(): RunJob[] {
    for (const bucket of this.buckets.values()) clearTimeout(bucket.timer);
    this.buckets.clear();
    const all = [...this.runs.values()].map((h) => h.run);
    this.runs.clear();
    return all;
  }

  /** `leadMs` before `at`: what `early.take` takes goes now, the rest at `at`. */
  private fireEarly(at: number): void {
    const bucket = this.buckets.get(at);
    if (!bucket || !this.early) return;
    const left: string[] = [];
    for (const id of bucket.ids) {
      const held = this.runs.get(id);
      if (!held || bucketOf(held.startAt) !== at) continue;
      // Its own time, not the bucket's whole ms: the wait for it is exact.
      if (this.early.take(held, held.startAt)) this.runs.delete(id);
      else left.push(id);
    }
    bucket.ids = left;
    if (left.length === 0) {
      this.buckets.delete(at);
      return;
    }
    bucket.timer = setTimeout(() => this.fire(at), Math.max(0, at - monotonicMs()));
  }

  private fire(at: number): void {
    const bucket = this.buckets.get(at);
    this.buckets.delete(at);
    if (!bucket) return;
    const runs: HeldRun<P>[] = [];
    for (const id of bucket.ids) {
      const held = this.runs.get(id);
      // Removed (stopped), or re-added for another time since.
      if (!held || bucketOf(held.startAt) !== at) continue;
      this.runs.delete(id);
      runs.push(held);
    }
    if (runs.length) this.due(runs);
  }
}

/** A held time's bucket: its whole ms, rounded up (a bucket's timer never fires before a run's time). */
function bucketOf(startAt: number): number {
  return Math.ceil(startAt);
}
