import type { InstanceStatus } from '@drover/protocol';

/**
 * How long a worker's accept waits before it is written (RUNNING). A run
 * that ends within it is written once, final (its RUNNING event is published
 * with its end); a longer one shows RUNNING this much later. A run sent
 * ahead of its time (500 ms by default) still shows RUNNING (held by its
 * worker) before it when sent over a second ahead. Below the first progress
 * report (INSTANCE_REPORT_MS) and the sweeper's accept timeout, which both
 * assume an accept written by then.
 */
export const ACCEPT_WRITE_DELAY_MS = 1_000;
const CHECK_EVERY_MS = 100;

const FINAL: ReadonlySet<InstanceStatus> = new Set(['SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED']);

interface Held<T> {
  app: string;
  worker: string;
  epoch: number;
  item: T;
  writeAt: number;
}

/**
 * Accepts held back from Postgres: at full rate, writing every accept was a
 * third of the statements per run (insert, accept, final), for a state most
 * runs leave within milliseconds. Held accepts are written in one statement
 * per worker when due; one whose run was written RUNNING or final at its
 * epoch meanwhile is dropped; anything else is written as before, and its
 * write finds the run taken over and stops that worker's TaskTracker. Lost
 * with the server, an accept is found by the sweeper (WAITING_WORKER_RECEIVE
 * past the accept timeout), which asks the worker, as for any lost accept.
 */
export class HeldAccepts<T> {
  private readonly held = new Map<string, Held<T>>();
  private timer: NodeJS.Timeout | undefined;
  private readonly writing = new Set<Promise<void>>();
  private closed = false;

  constructor(
    /** Writes one worker's accepts (RUNNING), each at its epoch. */
    private readonly write: (app: string, worker: string, items: T[]) => Promise<void>,
    private readonly delayMs = ACCEPT_WRITE_DELAY_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Holds accepts of runs (by instance id) to be written `delayMs` from now. */
  hold(app: string, worker: string, runs: { instanceId: string; epoch: number; item: T }[]): void {
    const writeAt = this.now() + this.delayMs;
    for (const r of runs) {
      this.held.set(r.instanceId, { app, worker, epoch: r.epoch, item: r.item, writeAt });
    }
    // The server stopping: an accept answered now (a dispatch in flight) is written at once.
    if (this.closed) this.writeDue(true);
    else if (this.held.size && !this.timer) {
      this.timer = setInterval(() => this.writeDue(false), CHECK_EVERY_MS);
      this.timer.unref();
    }
  }

  /** A run's state was written: an accept held for its epoch is moot once it is RUNNING or final. */
  changed(instanceId: string, epoch: number, status: InstanceStatus): void {
    const h = this.held.get(instanceId);
    if (h?.epoch === epoch && (status === 'RUNNING' || FINAL.has(status)))
      this.held.delete(instanceId);
  }

  /** Accepts held now (tests, metrics). */
  get size(): number {
    return this.held.size;
  }

  /** Writes every held accept now, and any held later at once; waits for the writes (the server is stopping). */
  async close(): Promise<void> {
    this.closed = true;
    this.writeDue(true);
    await Promise.allSettled([...this.writing]);
  }

  private writeDue(all: boolean): void {
    const now = this.now();
    const groups = new Map<string, { app: string; worker: string; items: T[] }>();
    for (const [id, h] of this.held) {
      if (!all && h.writeAt > now) continue;
      this.held.delete(id);
      const key = `${h.app}\u0000${h.worker}`;
      const group = groups.get(key);
      if (group) group.items.push(h.item);
      else groups.set(key, { app: h.app, worker: h.worker, items: [h.item] });
    }
    if (!this.held.size && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    for (const g of groups.values()) {
      const writing: Promise<void> = this.write(g.app, g.worker, g.items).finally(() =>
        this.writing.delete(writing),
      );
      this.writing.add(writing);
    }
  }
}
