import type { Worker } from 'node:worker_threads';
import type { JsonValue } from '@drover/protocol';
import type { DroverLogger as Logger } from '@drover/transport';
import { FROM_SOURCE } from '../from-source.js';
import { ProcessorModuleError } from '../sdk/load-processors.js';
import { NonRetryableError, type Processor } from '../sdk/processor.js';
import type { AbortSource } from '../tracker/abort-source.js';
import type { ProcessorExecutor, RunData, TaskData, TaskHooks } from './executor.js';
import { processClockMs } from './start-at.js';
import { spawnThread } from './thread-exec-argv.js';
import type { FromThread, JobBatch, ScopeData, ToThread } from './thread-messages.js';

// Tasks a thread runs at once: async processors interleave on it, so short
// tasks do not pay a thread round trip each in turn. A processor that blocks
// its thread holds up only the tasks sharing that thread: a thread gets a new
// batch only once it acknowledged the last one (its event loop turned since).
// 512, not 64: a fleet of CRON runs due at once (1,000 a second) reaches the
// threads in one batch each instead of a round trip per 64.
const TASKS_PER_THREAD = 512;
// A thread with tasks on it not heard from for this long is pinged (and given
// nothing) before it gets more: an async processor may have blocked it since.
const LIVENESS_MS = 50;
// After asking a processor to stop, wait this long before ending its thread.
const ABORT_GRACE_MS = 1_000;
// Built, threads start thread-entry.js (which registers tsx itself if a
// processors module is TypeScript); from TypeScript sources they start a
// bootstrap that registers tsx first (Node 20 threads do not inherit it).
const ENTRY = new URL(
  FROM_SOURCE ? './ts-thread-bootstrap.mjs' : './thread-entry.js',
  import.meta.url,
);
const THREAD_ENTRY = new URL('./thread-entry.ts', import.meta.url).href;

interface Job {
  id: number;
  scope: Scope;
  task: TaskData;
  hooks: TaskHooks;
  /** Not before this moment (main thread's monotonic ms). */
  startAt: number | undefined;
  resolve: (value: JsonValue) => void;
  reject: (err: Error) => void;
}

/** The tasks sharing one abort signal (a run's tasks on this worker). */
interface Scope {
  id: number;
  processor: string;
  run: RunData;
  abort: AbortSource;
  jobs: Set<Job>;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  gone: boolean;
  /** A task on it was told to abort: it may be stuck, give it nothing new. */
  aborting: boolean;
  jobs: Map<number, Job>;
  /** Tasks handed to this thread in the current turn, sent together. */
  outbox: Job[];
  /** Batches sent, and the last one the thread acknowledged: a gap means it may be blocked. */
  sent: number;
  acked: number;
  /** When its event loop last showed it was free (ready, ack, results). */
  heardAt: number;
}

/**
 * Runs processors in a pool of worker threads, several tasks per thread at a
 * time. A processor that never yields blocks its thread only, so heartbeats
 * keep flowing; on stop or timeout its tasks are asked to abort, and the
 * thread is ended (and replaced) if they do not within a second. A processor
 * calling `process.exit` ends only its thread: its tasks fail and the pool
 * refills. A thread that cannot load the modules at start fails the pool
 * (`ready` rejects with the cause) instead of being respawned.
 */
export class ThreadExecutor implements ProcessorExecutor {
  /** Resolves once every thread loaded the modules; rejects with the first that could not. */
  readonly ready: Promise<void>;
  private started = false;
  private settleStart: (err?: Error) => void = () => undefined;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly scopes = new WeakMap<AbortSource, Scope[]>();
  private nextId = 0;
  private nextScope = 0;
  private closed = false;
  private pings = 0;

  /** Liveness pings sent: a thread with tasks was silent past LIVENESS_MS (maybe blocked). */
  get pingsSent(): number {
    return this.pings;
  }

  constructor(
    private readonly modules: readonly string[],
    size: number,
    private readonly log: Logger,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleStart = (err) => {
        if (this.started) return;
        this.started = true;
        if (err) reject(err);
        else resolve();
      };
    });
    // Whoever does not await `ready` still sees a failed start in its tasks.
    this.ready.catch(() => undefined);
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
    if (size === 0) this.settleStart();
  }

  process(
    processor: Processor,
    run: RunData,
    task: TaskData,
    hooks: TaskHooks,
    abort: AbortSource,
    startAt?: number,
  ): Promise<JsonValue> {
    return new Promise<JsonValue>((resolve, reject) => {
      if (abort.aborted) return reject(abort.reason as Error);
      const scope = this.scopeOf(abort, processor.name, run);
      const job: Job = {
        id: ++this.nextId,
        scope,
        task,
        hooks,
        startAt,
        resolve: (value) => {
          scope.jobs.delete(job);
          resolve(value);
        },
        reject: (err) => {
          scope.jobs.delete(job);
          reject(err);
        },
      };
      scope.jobs.add(job);
      this.queue.push(job);
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** One abort listener per run's switch and processor, however many tasks share them. */
  private scopeOf(abort: AbortSource, processor: string, run: RunData): Scope {
    const scopes = this.scopes.get(abort) ?? [];
    const found = scopes.find((s) => s.processor === processor);
    if (found) return found;
    const scope: Scope = { id: ++this.nextScope, processor, run, abort, jobs: new Set() };
    abort.onAbort(() => this.abortScope(scope));
    scopes.push(scope);
    this.scopes.set(abort, scopes);
    return scope;
  }

  private spawn(): Slot {
    const worker = spawnThread(ENTRY, {
      workerData: { modules: this.modules, entry: THREAD_ENTRY },
    });
    const slot: Slot = {
      worker,
      ready: false,
      gone: false,
      aborting: false,
      jobs: new Map(),
      outbox: [],
      sent: 0,
      acked: 0,
      heardAt: 0,
    };
    worker.on('message', (m: FromThread) => this.onMessage(slot, m));
    // Before `ready`, an error is the modules failing to load: its message names the file.
    worker.on('error', (err) =>
      this.replace(slot, slot.ready ? `processor thread failed: ${err.message}` : err.message),
    );
    worker.on('exit', (code) => this.replace(slot, `processor thread exited with code ${code}`));
    return slot;
  }

  /** Sends a message after the tasks already handed to the thread. */
  private post(slot: Slot, message: ToThread): void {
    this.flushOutbox(slot);
    slot.worker.postMessage(message);
  }

  private flushOutbox(slot: Slot): void {
    if (!slot.outbox.length || slot.gone) return;
    const runs = new Map<number, ScopeData>();
    const batch: JobBatch = {
      ids: [],
      scopes: [],
      taskIds: [],
      taskNames: [],
      attempts: [],
      payloads: [],
      startAts: [],
    };
    // This thread's clock to the process clock (the processor thread's scale).
    const shift = processClockMs() - performance.now();
    for (const { id, scope, task, startAt } of slot.outbox) {
      if (!runs.has(scope.id))
        runs.set(scope.id, { scope: scope.id, processor: scope.processor, run: scope.run });
      batch.ids.push(id);
      batch.scopes.push(scope.id);
      batch.taskIds.push(task.taskId);
      batch.taskNames.push(task.taskName);
      batch.attempts.push(task.attempt);
      batch.payloads.push(task.payload);
      // On the process clock: the time the batch takes to reach the thread is not added.
      batch.startAts.push(startAt === undefined ? 0 : startAt + shift);
    }
    slot.outbox = [];
    const message: ToThread = { type: 'run', seq: ++slot.sent, runs: [...runs.values()], ...batch };
    slot.worker.postMessage(message);
  }

  /**
   * Hands queued tasks to the least loaded usable thread. A thread that has
   * not acknowledged its last batch may be blocked by a processor: it gets
   * nothing more until it does, and the tasks go to other threads or wait.
   */
  private pump(): void {
    while (this.queue.length) {
      let best: Slot | undefined;
      for (const slot of this.slots) {
        if (slot.gone || !slot.ready || slot.aborting || slot.jobs.size >= TASKS_PER_THREAD)
          continue;
        // One batch per thread in flight: what queues meanwhile goes in the next one.
        if (slot.acked !== slot.sent) continue;
        // Only tasks it was sent count: those in this turn's outbox are not late
        // (an idle thread was pinged before its first task of every burst).
        const sent = slot.jobs.size - slot.outbox.length;
        if (sent > 0 && performance.now() - slot.heardAt > LIVENESS_MS) {
          this.flushOutbox(slot);
          slot.worker.postMessage({ type: 'ping', seq: ++slot.sent } satisfies ToThread);
          this.pings++;
          continue;
        }
        if (!best || slot.jobs.size < best.jobs.size) best = slot;
      }
      if (!best) return;
      const job = this.queue.shift() as Job;
      best.jobs.set(job.id, job);
      const slot = best;
      if (slot.outbox.length === 0) queueMicrotask(() => this.flushOutbox(slot));
      slot.outbox.push(job);
    }
  }

  private onMessage(slot: Slot, m: FromThread): void {
    if (m.type === 'ready' || m.type === 'ack' || m.type === 'done')
      slot.heardAt = performance.now();
    if (m.type === 'ready') {
      slot.ready = true;
      if (this.slots.every((s) => s.ready)) this.settleStart();
      this.pump();
      return;
    }
    if (m.type === 'ack') {
      // A batch's ack can come after a later ping's: the latest one counts.
      slot.acked = Math.max(slot.acked, m.seq);
      this.pump();
      return;
    }
    if (m.type === 'done') {
      for (let i = 0; i < m.ok.length; i++) {
        const id = m.ok[i] as number;
        const job = slot.jobs.get(id);
        if (!job) continue;
        slot.jobs.delete(id);
        job.resolve(m.values[i] ?? null);
      }
      for (const f of m.failed) {
        const job = slot.jobs.get(f.id);
        if (!job) continue;
        slot.jobs.delete(f.id);
        job.reject(f.nonRetryable ? new NonRetryableError(f.message) : new Error(f.message));
      }
      this.pump();
      return;
    }
    const job = slot.jobs.get(m.id);
    if (!job) return;
    if (m.type === 'log') job.hooks.log()[m.level](m.message);
    else if (m.type === 'context') {
      // Checked in the thread already; a refusal here only leaves the key out.
      try {
        job.hooks.setContext?.(m.key, m.value);
      } catch (err) {
        job.hooks.log().error((err as Error).message);
      }
    } else if (m.type === 'map') {
      job.hooks.map(m.payloads, m.taskName).then(
        () => this.post(slot, { type: 'mapped', mapId: m.mapId }),
        (err: Error) => this.post(slot, { type: 'mapped', mapId: m.mapId, error: err.message }),
      );
    }
  }

  /** The scope's signal fired: drop its queued tasks and stop its running ones. */
  private abortScope(scope: Scope): void {
    const reason = scope.abort.reason as Error;
    for (const job of [...scope.jobs]) {
      const queued = this.queue.indexOf(job);
      if (queued < 0) continue;
      this.queue.splice(queued, 1);
      job.reject(reason);
    }
    for (const slot of this.slots) {
      const stuck = () => [...slot.jobs.values()].filter((j) => j.scope === scope);
      if (slot.gone || stuck().length === 0) continue;
      slot.aborting = true;
      this.post(slot, { type: 'abort', scope: scope.id, reason: reason.message });
      setTimeout(() => {
        const left = stuck();
        if (left.length === 0 || slot.gone) {
          slot.aborting = false; // they stopped in time
          this.pump();
          return;
        }
        this.log.warn(
          { processor: left[0]?.scope.processor, tasks: left.length },
          'processor ignored its abort signal; ending its thread',
        );
        for (const job of left) {
          slot.jobs.delete(job.id);
          job.reject(reason);
        }
        void slot.worker.terminate();
      }, ABORT_GRACE_MS).unref();
    }
  }

  /** A thread ended: fail what it was running and start a fresh one. */
  private replace(slot: Slot, reason: string): void {
    if (slot.gone) return;
    slot.gone = true;
    for (const job of slot.jobs.values()) job.reject(new Error(reason));
    slot.jobs.clear();
    if (this.closed) return;
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    if (slot.ready) {
      this.slots[index] = this.spawn();
      return;
    }
    this.log.error({ reason }, 'processor thread could not start');
    for (const waiting of this.queue.splice(0)) waiting.reject(new Error(reason));
    if (!this.started) {
      // The modules do not load in a thread: respawning would fail the same way.
      this.settleStart(new ProcessorModuleError(`a processor thread could not start: ${reason}`));
      void this.close();
      return;
    }
    // A replacement died while loading (the modules loaded before): retry
    // later instead of respawning in a tight loop.
    setTimeout(() => {
      if (!this.closed) this.slots[index] = this.spawn();
    }, 1_000).unref();
  }
}
