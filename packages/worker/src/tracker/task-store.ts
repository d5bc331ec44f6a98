import type { JsonValue } from '@drover/protocol';
import type { TaskOutcome } from '../sdk/processor.js';

/** BACKOFF: failed an attempt, waiting out its retry delay outside the queue. */
export type TaskState = 'WAITING_DISPATCH' | 'DISPATCHED' | 'BACKOFF' | 'SUCCEEDED' | 'FAILED';
const STATES: readonly TaskState[] = [
  'WAITING_DISPATCH',
  'DISPATCHED',
  'BACKOFF',
  'SUCCEEDED',
  'FAILED',
];
const WAITING = 0;
const DISPATCHED = 1;
const BACKOFF = 2;
const SUCCEEDED = 3;
const FAILED = 4;

/** Strings stored once each (task names, worker ids), referred to by number. */
class Interned {
  private readonly values: string[] = [];
  private readonly ids = new Map<string, number>();

  id(value: string): number {
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.values.push(value) - 1;
      this.ids.set(value, id);
    }
    return id;
  }

  find(value: string): number | undefined {
    return this.ids.get(value);
  }

  value(id: number): string {
    return this.values[id] as string;
  }
}

/** A task as handed out for dispatch, shaped as `start_tasks` carries it. */
export interface DispatchedTask {
  taskId: string;
  taskName: string;
  attempt: number;
  payload: unknown;
}

export interface NewTask {
  id: string;
  name: string;
  payload: unknown;
  /** Broadcast tasks run on this worker only. */
  pinnedTo?: string;
}

/**
 * The tasks of one run, kept in memory behind a small interface (a durable
 * store can replace it for TaskTracker failover). Storing is idempotent by
 * batch id and task id; a result counts only for the attempt it belongs to.
 *
 * Laid out as columns (typed arrays indexed by a task's position) rather than
 * an object per task: a million tasks must fit well within a gigabyte, and a
 * final task keeps only its result.
 */
export class TaskStore {
  private readonly index = new Map<string, number>();
  private readonly ids: string[] = [];
  private readonly payloads: unknown[] = [];
  private readonly results: (JsonValue | undefined)[] = [];
  private state = new Uint8Array(1024);
  private attempts = new Uint16Array(1024);
  /** Worker of a dispatched task, as its position in `workers` plus one (0: none). */
  private workerOf = new Uint16Array(1024);
  private nameOf = new Uint32Array(1024);
  private readonly names = new Interned();
  private readonly workers = new Interned();
  private readonly pinned = new Map<number, string>();
  private readonly batches = new Set<string>();
  private pending: number[] = [];
  private pendingHead = 0;
  /** Tasks taken back from a lost or draining worker: dispatched before the queue, within their bound. */
  private again: number[] = [];
  private finals = 0;
  private succeeded = 0;
  private dispatched = 0;

  /** Adds tasks unless this batch was stored before; returns how many were new. */
  addBatch(batchId: string, tasks: NewTask[]): number | 'duplicate' {
    if (this.batches.has(batchId)) return 'duplicate';
    this.batches.add(batchId);
    let added = 0;
    for (const t of tasks) {
      if (this.index.has(t.id)) continue;
      const at = this.ids.length;
      this.grow(at + 1);
      this.index.set(t.id, at);
      this.ids.push(t.id);
      this.payloads.push(t.payload);
      this.results.push(undefined);
      this.nameOf[at] = this.names.id(t.name);
      if (t.pinnedTo) this.pinned.set(at, t.pinnedTo);
      this.pending.push(at);
      added++;
    }
    return added;
  }

  /** Next waiting tasks this worker may take (pinned tasks only on their worker). */
  take(worker: string, max: number): DispatchedTask[] {
    const out: DispatchedTask[] = [];
    const skipped: number[] = [];
    const w = this.workers.id(worker) + 1;
    const next = (): number | undefined => {
      if (this.again.length) return this.again.pop();
      return this.pendingHead < this.pending.length ? this.pending[this.pendingHead++] : undefined;
    };
    while (out.length < max) {
      const at = next();
      if (at === undefined) break;
      if (this.state[at] !== WAITING) continue;
      const pin = this.pinned.get(at);
      if (pin !== undefined && pin !== worker) {
        skipped.push(at);
        continue;
      }
      this.state[at] = DISPATCHED;
      const attempt = (this.attempts[at] as number) + 1;
      this.attempts[at] = attempt;
      this.workerOf[at] = w;
      this.dispatched++;
      out.push({
        taskId: this.ids[at] as string,
        taskName: this.names.value(this.nameOf[at] as number),
        attempt,
        payload: this.payloads[at],
      });
    }
    for (const at of skipped) this.pending.push(at);
    this.compact();
    return out;
  }

  /** The attempt a task is out on with this worker, or 0 when it is not out with it. */
  attemptWith(id: string, worker: string): number {
    const at = this.index.get(id);
    if (at === undefined || this.state[at] !== DISPATCHED) return 0;
    return this.workers.value((this.workerOf[at] as number) - 1) === worker
      ? (this.attempts[at] as number)
      : 0;
  }

  isPinned(id: string): boolean {
    const at = this.index.get(id);
    return at !== undefined && this.pinned.has(at);
  }

  /** Applies a result if it is for the task's current attempt; false when stale or duplicate. */
  complete(
    id: string,
    attempt: number,
    status: 'SUCCEEDED' | 'FAILED',
    result: JsonValue,
  ): boolean {
    const at = this.dispatchedAt(id);
    if (at === undefined || this.attempts[at] !== attempt) return false;
    this.state[at] = status === 'SUCCEEDED' ? SUCCEEDED : FAILED;
    this.results[at] = result;
    this.workerOf[at] = 0;
    this.payloads[at] = undefined; // a final task never runs again: keep its result, not its input
    this.dispatched--;
    this.finals++;
    if (status === 'SUCCEEDED') this.succeeded++;
    return true;
  }

  /**
   * Takes a dispatched task back from its worker (dead, or draining) and puts
   * it first in line: it already waited its turn once.
   */
  requeue(id: string): void {
    const at = this.dispatchedAt(id);
    if (at === undefined) return;
    this.state[at] = WAITING;
    this.workerOf[at] = 0;
    this.dispatched--;
    this.again.push(at);
  }

  /** Takes a dispatched task back for a retry later; `release` queues it again. */
  backOff(id: string): void {
    const at = this.dispatchedAt(id);
    if (at === undefined) return;
    this.state[at] = BACKOFF;
    this.workerOf[at] = 0;
    this.dispatched--;
  }

  release(id: string): void {
    const at = this.index.get(id);
    if (at === undefined || this.state[at] !== BACKOFF) return;
    this.state[at] = WAITING;
    this.pending.push(at);
  }

  /** Fails a dispatched task for good (e.g. a pinned task whose worker died). */
  fail(id: string, result: string): void {
    const at = this.dispatchedAt(id);
    if (at === undefined) return;
    this.complete(id, this.attempts[at] as number, 'FAILED', result);
  }

  stateOf(id: string): TaskState | undefined {
    const at = this.index.get(id);
    return at === undefined ? undefined : STATES[this.state[at] as number];
  }

  /** Ids of the tasks currently out with a worker. */
  dispatchedTo(worker: string): string[] {
    const w = (this.workers.find(worker) ?? -1) + 1;
    const out: string[] = [];
    if (w === 0) return out;
    for (let at = 0; at < this.ids.length; at++) {
      if (this.state[at] === DISPATCHED && this.workerOf[at] === w)
        out.push(this.ids[at] as string);
    }
    return out;
  }

  get waiting(): number {
    return this.ids.length - this.finals - this.dispatched;
  }

  get allFinal(): boolean {
    return this.ids.length > 0 && this.finals === this.ids.length;
  }

  progress() {
    return {
      total: this.ids.length,
      succeeded: this.succeeded,
      failed: this.finals - this.succeeded,
      running: this.dispatched,
    };
  }

  outcomes(): TaskOutcome[] {
    const out: TaskOutcome[] = [];
    for (let at = 0; at < this.ids.length; at++) {
      const state = this.state[at];
      if (state !== SUCCEEDED && state !== FAILED) continue;
      out.push({
        taskId: this.ids[at] as string,
        taskName: this.names.value(this.nameOf[at] as number),
        status: state === SUCCEEDED ? 'SUCCEEDED' : 'FAILED',
        result: this.results[at] ?? null,
      });
    }
    return out;
  }

  private dispatchedAt(id: string): number | undefined {
    const at = this.index.get(id);
    return at !== undefined && this.state[at] === DISPATCHED ? at : undefined;
  }

  private grow(size: number): void {
    if (size <= this.state.length) return;
    const capacity = this.state.length * 2;
    const widen = <T extends Uint8Array | Uint16Array | Uint32Array>(
      old: T,
      make: (n: number) => T,
    ): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.state = widen(this.state, (n) => new Uint8Array(n));
    this.attempts = widen(this.attempts, (n) => new Uint16Array(n));
    this.workerOf = widen(this.workerOf, (n) => new Uint16Array(n));
    this.nameOf = widen(this.nameOf, (n) => new Uint32Array(n));
  }

  private compact(): void {
    // Drop the consumed head of the queue now and then, so it does not grow forever.
    if (this.pendingHead > 10_000 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
  }
}
