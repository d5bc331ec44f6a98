import { monotonicMs, type ttMessages } from '@drover/protocol';
import type { z } from 'zod/v4';

type RunJob = z.output<typeof ttMessages.RunJob>;

/** A held run, with what was made for it ahead of its time (`prepared`). */
export interface HeldRun<P> {
  run: RunJob;
  prepared: P | undefined;
}

/**
 * Runs accepted ahead of their time (`startInMs`), held until then. Runs due
 * in the same millisecond share one timer, and are handed to `due` together
 * in arrival order: a fleet of CRON jobs firing at once starts in one turn.
 * `prepared` is what the worker built while it waited (its TaskTracker), so
 * that at the due time only the start itself is left to do.
 */
export class TimedRuns<P = never> {
  private readonly runs = new Map<string, HeldRun<P> & { at: number }>();
  private readonly buckets = new Map<number, { ids: string[]; timer: NodeJS.Timeout }>();

  constructor(private readonly due: (runs: HeldRun<P>[]) => void) {}

  get size(): number {
    return this.runs.size;
  }

  get(instanceId: string): RunJob | undefined {
    return this.runs.get(instanceId)?.run;
  }

  /** Holds `run` until `startAt` (monotonic ms). */
  add(run: RunJob, startAt: number, prepared?: P): void {
    const at = Math.round(startAt);
    this.runs.set(run.instanceId, { run, at, prepared });
    const bucket = this.buckets.get(at);
    if (bucket) {
      bucket.ids.push(run.instanceId);
      return;
    }
    const timer = setTimeout(() => this.fire(at), Math.max(0, at - monotonicMs()));
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

  private fire(at: number): void {
    const bucket = this.buckets.get(at);
    this.buckets.delete(at);
    if (!bucket) return;
    const runs: HeldRun<P>[] = [];
    for (const id of bucket.ids) {
      const held = this.runs.get(id);
      // Removed (stopped), or re-added for another time since.
      if (!held || held.at !== at) continue;
      this.runs.delete(id);
      runs.push(held);
    }
    if (runs.length) this.due(runs);
  }
}
