import type { TaskOutcome } from '../sdk/processor.js';

/** BACKOFF: failed an attempt, waiting out its retry delay outside the queue. */
export type TaskState = 'WAITING_DISPATCH' | 'DISPATCHED' | 'BACKOFF' | 'SUCCEEDED' | 'FAILED';

export interface Task {
  id: string;
  name: string;
  payload: unknown;
  state: TaskState;
  /** Bumped on every dispatch; a result from another attempt is ignored. */
  attempt: number;
  worker?: string;
  /** Broadcast tasks run on this worker only. */
  pinnedTo?: string;
  result?: string;
}

/**
 * The tasks of one run, kept in memory behind a small interface (a durable
 * store can replace it for TaskTracker failover). Storing is idempotent by
 * batch id and task id; a result counts only for the attempt it belongs to.
 */
export class TaskStore {
  private readonly tasks = new Map<string, Task>();
  private readonly batches = new Set<string>();
  private readonly pending: string[] = [];
  private pendingHead = 0;
  private finals = 0;
  private succeeded = 0;
  private dispatched = 0;

  /** Adds tasks unless this batch was stored before; returns how many were new. */
  addBatch(
    batchId: string,
    tasks: { id: string; name: string; payload: unknown; pinnedTo?: string }[],
  ): number | 'duplicate' {
    if (this.batches.has(batchId)) return 'duplicate';
    this.batches.add(batchId);
    let added = 0;
    for (const t of tasks) {
      if (this.tasks.has(t.id)) continue;
      this.tasks.set(t.id, { ...t, state: 'WAITING_DISPATCH', attempt: 0 });
      this.pending.push(t.id);
      added++;
    }
    return added;
  }

  /** Next waiting tasks this worker may take (pinned tasks only on their worker). */
  take(worker: string, max: number): Task[] {
    const out: Task[] = [];
    const skipped: string[] = [];
    while (out.length < max && this.pendingHead < this.pending.length) {
      const id = this.pending[this.pendingHead++] as string;
      const task = this.tasks.get(id);
      if (task?.state !== 'WAITING_DISPATCH') continue;
      if (task.pinnedTo && task.pinnedTo !== worker) {
        skipped.push(id);
        continue;
      }
      task.state = 'DISPATCHED';
      task.attempt++;
      task.worker = worker;
      this.dispatched++;
      out.push(task);
    }
    this.pending.push(...skipped);
    this.compact();
    return out;
  }

  /** Applies a result if it is for the task's current attempt; false when stale or duplicate. */
  complete(id: string, attempt: number, status: 'SUCCEEDED' | 'FAILED', result: string): boolean {
    const task = this.tasks.get(id);
    if (task?.state !== 'DISPATCHED' || task.attempt !== attempt) return false;
    task.state = status;
    task.result = result;
    task.worker = undefined;
    task.payload = undefined; // a final task never runs again: keep its result, not its input
    this.dispatched--;
    this.finals++;
    if (status === 'SUCCEEDED') this.succeeded++;
    return true;
  }

  /** Puts a dispatched task back in the queue (its worker died, or it is retried). */
  requeue(id: string): void {
    const task = this.tasks.get(id);
    if (task?.state !== 'DISPATCHED') return;
    task.state = 'WAITING_DISPATCH';
    task.worker = undefined;
    this.dispatched--;
    this.pending.push(id);
  }

  /** Takes a dispatched task back for a retry later; `release` queues it again. */
  backOff(id: string): void {
    const task = this.tasks.get(id);
    if (task?.state !== 'DISPATCHED') return;
    task.state = 'BACKOFF';
    task.worker = undefined;
    this.dispatched--;
  }

  release(id: string): void {
    const task = this.tasks.get(id);
    if (task?.state !== 'BACKOFF') return;
    task.state = 'WAITING_DISPATCH';
    this.pending.push(id);
  }

  /** Fails a dispatched task for good (e.g. a pinned task whose worker died). */
  fail(id: string, result: string): void {
    const task = this.tasks.get(id);
    if (task?.state !== 'DISPATCHED') return;
    this.complete(id, task.attempt, 'FAILED', result);
  }

  get(id: string): Task | undefined {
    return this.tasks.get(id);
  }

  /** Tasks currently out with a worker. */
  dispatchedTo(worker: string): Task[] {
    return [...this.tasks.values()].filter((t) => t.state === 'DISPATCHED' && t.worker === worker);
  }

  get waiting(): number {
    return this.tasks.size - this.finals - this.dispatched;
  }

  get allFinal(): boolean {
    return this.tasks.size > 0 && this.finals === this.tasks.size;
  }

  progress() {
    return {
      total: this.tasks.size,
      succeeded: this.succeeded,
      failed: this.finals - this.succeeded,
      running: this.dispatched,
    };
  }

  outcomes(): TaskOutcome[] {
    const out: TaskOutcome[] = [];
    for (const t of this.tasks.values()) {
      if (t.state === 'SUCCEEDED' || t.state === 'FAILED') {
        out.push({ taskId: t.id, taskName: t.name, status: t.state, result: t.result ?? '' });
      }
    }
    return out;
  }

  private compact(): void {
    // Drop the consumed head of the queue now and then, so it does not grow forever.
    if (this.pendingHead > 10_000 && this.pendingHead * 2 > this.pending.length) {
      this.pending.splice(0, this.pendingHead);
      this.pendingHead = 0;
    }
  }
}
