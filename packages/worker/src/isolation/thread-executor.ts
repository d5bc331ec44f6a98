import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { NonRetryableError, type ProcessOutcome, type Processor } from '../sdk/processor.js';
import type { ProcessorExecutor, TaskData, TaskHooks } from './executor.js';
import type { FromThread, ToThread } from './thread-messages.js';

// Tasks a thread runs at once: async processors interleave on it, so short
// tasks do not pay a thread round trip each in turn. A processor that blocks
// its thread holds up only the tasks sharing that thread.
const TASKS_PER_THREAD = 64;
// After asking a processor to stop, wait this long before ending its thread.
const ABORT_GRACE_MS = 1_000;
// Built, threads start thread-entry.js; from TypeScript sources they start a
// bootstrap that registers tsx first (Node 20 threads do not inherit it).
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = new URL(
  FROM_SOURCE ? './ts-thread-bootstrap.mjs' : './thread-entry.js',
  import.meta.url,
);
const THREAD_ENTRY = new URL('./thread-entry.ts', import.meta.url).href;

interface Job {
  id: number;
  processor: string;
  task: TaskData;
  hooks: TaskHooks;
  signal: AbortSignal;
  resolve: (value: ProcessOutcome) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  gone: boolean;
  /** A task on it was told to abort: it may be stuck, give it nothing new. */
  aborting: boolean;
  jobs: Map<number, Job>;
}

/**
 * Runs processors in a pool of worker threads, one task per thread at a time.
 * A processor that never yields blocks its thread only, so heartbeats keep
 * flowing; on stop or timeout it is asked to abort, and its thread is ended
 * (and replaced) if it does not within a second. A processor calling
 * `process.exit` ends only its thread: the task fails and the pool refills.
 */
export class ThreadExecutor implements ProcessorExecutor {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly module: string,
    size: number,
    private readonly log: Logger,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  process(
    processor: Processor,
    task: TaskData,
    hooks: TaskHooks,
    signal: AbortSignal,
  ): Promise<ProcessOutcome> {
    return new Promise<ProcessOutcome>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      // Many tasks share one run's signal: each listener must go when its task ends,
      // or every new listener costs a scan of all the old ones.
      const onAbort = () => this.abortJob(job);
      const job: Job = {
        id: ++this.nextId,
        processor: processor.name,
        task,
        hooks,
        signal,
        resolve: (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(job);
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const worker = new Worker(ENTRY, {
      workerData: { module: this.module, entry: THREAD_ENTRY },
      execArgv: process.execArgv,
    });
    const slot: Slot = { worker, ready: false, gone: false, aborting: false, jobs: new Map() };
    worker.on('message', (m: FromThread) => this.onMessage(slot, m));
    worker.on('error', (err) => this.replace(slot, `processor thread failed: ${err.message}`));
    worker.on('exit', (code) => this.replace(slot, `processor thread exited with code ${code}`));
    return slot;
  }

  private post(slot: Slot, message: ToThread): void {
    slot.worker.postMessage(message);
  }

  /** Hands queued tasks to the least loaded usable thread. */
  private pump(): void {
    while (this.queue.length) {
      let best: Slot | undefined;
      for (const slot of this.slots) {
        if (slot.gone || !slot.ready || slot.aborting || slot.jobs.size >= TASKS_PER_THREAD)
          continue;
        if (!best || slot.jobs.size < best.jobs.size) best = slot;
      }
      if (!best) return;
      const job = this.queue.shift() as Job;
      best.jobs.set(job.id, job);
      this.post(best, { type: 'run', id: job.id, processor: job.processor, task: job.task });
    }
  }

  private onMessage(slot: Slot, m: FromThread): void {
    if (m.type === 'ready') {
      slot.ready = true;
      this.pump();
      return;
    }
    const job = slot.jobs.get(m.id);
    if (!job) return;
    if (m.type === 'log') job.hooks.log[m.level](m.message);
    else if (m.type === 'map') {
      job.hooks.map(m.payloads, m.taskName).then(
        () => this.post(slot, { type: 'mapped', mapId: m.mapId }),
        (err: Error) => this.post(slot, { type: 'mapped', mapId: m.mapId, error: err.message }),
      );
    } else if (m.type === 'done') {
      slot.jobs.delete(m.id);
      if (m.ok) job.resolve(m.value);
      else job.reject(m.nonRetryable ? new NonRetryableError(m.message) : new Error(m.message));
      this.pump();
    }
  }

  private abortJob(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      job.reject(job.signal.reason as Error);
      return;
    }
    const slot = this.slots.find((s) => s.jobs.get(job.id) === job);
    if (!slot) return;
    slot.aborting = true;
    this.post(slot, { type: 'abort', id: job.id, reason: (job.signal.reason as Error).message });
    setTimeout(() => {
      if (slot.jobs.get(job.id) !== job) {
        slot.aborting = false; // it stopped in time
        this.pump();
        return;
      }
      this.log.warn(
        { processor: job.processor, taskId: job.task.taskId },
        'processor ignored its abort signal; ending its thread',
      );
      slot.jobs.delete(job.id);
      job.reject(job.signal.reason as Error);
      void slot.worker.terminate();
    }, ABORT_GRACE_MS).unref();
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
    // It died while loading the processors module: fail what waits, and retry
    // later instead of respawning in a tight loop.
    this.log.error({ reason }, 'processor thread could not start');
    for (const waiting of this.queue.splice(0)) waiting.reject(new Error(reason));
    setTimeout(() => {
      if (!this.closed) this.slots[index] = this.spawn();
    }, 1_000).unref();
  }
}
