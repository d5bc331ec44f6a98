import { HandlerError } from '@drover/protocol';
import type { DroverLogger as Logger } from '@drover/transport';
import { LogLimiter } from '@drover/transport';

// What a worker acts on is fenced: a replayed or stale message (an older
// epoch, a finished run, a task attempt already started, a sub-task batch
// from a sender that does not hold the parent task) is refused, counted and
// logged at most once per 10 s. Memory is bounded: the oldest entries go first.

/** Instances whose highest epoch each worker remembers (per actor kind). */
export const REMEMBERED_INSTANCES = 10_000;
/** (instance, epoch, task) whose highest started attempt each worker remembers. */
export const REMEMBERED_TASKS = 100_000;

/** Error code of a fenced (refused) message. */
export const FENCED = 'FENCED';

export type FencedKind = 'runJob' | 'stopInstance' | 'startTasks' | 'mapTask';

/**
 * A map that forgets its oldest entries past `max` (holding `max` + max/16,
 * or + 1 when that is 0, at most); a write refreshes an entry's age.
 */
export class BoundedMemory<V> {
  private readonly entries = new Map<string, V>();
  private readonly slack: number;

  constructor(private readonly max: number) {
    this.slack = Math.max(1, max >> 4);
  }

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    // The oldest go in batches: a walk from a Map's front passes the slots
    // of every entry deleted there until V8 rebuilds the table, so evicting
    // one a write cost ~8 µs a run (one write per run dispatched).
    if (this.entries.size <= this.max + this.slack) return;
    let extra = this.entries.size - this.max;
    for (const oldest of this.entries.keys()) {
      if (extra-- <= 0) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Highest value per key, remembered within a bound: what is not higher is stale. */
export class HighWaterMarks {
  private readonly marks: BoundedMemory<number>;

  constructor(max: number) {
    this.marks = new BoundedMemory(max);
  }

  get(key: string): number | undefined {
    return this.marks.get(key);
  }

  /** Records `value` as seen for `key` (never lowering the mark). */
  note(key: string, value: number): void {
    const current = this.marks.get(key);
    this.marks.set(key, current === undefined ? value : Math.max(current, value));
  }
}

/** The worker's counters of refused messages, for its `status` endpoint. */
export class Fences {
  readonly refused: Record<FencedKind, number> = {
    runJob: 0,
    stopInstance: 0,
    startTasks: 0,
    mapTask: 0,
  };
  /** Highest epoch a TaskTracker here accepted, per instance. */
  readonly runEpochs = new HighWaterMarks(REMEMBERED_INSTANCES);
  /** Highest epoch a ProcessorTracker here accepted, per instance. */
  readonly taskEpochs = new HighWaterMarks(REMEMBERED_INSTANCES);
  /** Highest attempt started here, per instance, epoch and task. */
  readonly startedAttempts = new HighWaterMarks(REMEMBERED_TASKS);
  private readonly logs: LogLimiter;

  constructor(log: Logger) {
    this.logs = new LogLimiter(log.child({ actor: 'fences' }));
  }

  /** Counts and logs a refusal; returns the error to answer with. */
  refuse(kind: FencedKind, fields: Record<string, unknown>, reason: string): HandlerError {
    this.count(kind, 1, fields, reason);
    return new HandlerError(FENCED, reason);
  }

  /** Counts refused items (e.g. tasks of one message) without failing the message. */
  count(kind: FencedKind, n: number, fields: Record<string, unknown>, reason: string): void {
    this.refused[kind] += n;
    this.logs.warn({ kind, ...fields, reason }, 'fenced message refused');
  }
}
