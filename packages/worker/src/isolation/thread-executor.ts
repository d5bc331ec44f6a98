import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { NonRetryableError, type ProcessOutcome, type Processor } from '../sdk/processor.js';
import type { ProcessorExecutor, TaskData, TaskHooks } from './executor.js';
import type { FromThread, ToThread } from './thread-messages.js';

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
  job?: Job;
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
      const job: Job = {
        id: ++this.nextId,
        processor: processor.name,
        task,
        hooks,
        signal,
        resolve,
        reject,
      };
      if (signal.aborted) return reject(signal.reason as Error);
      signal.addEventListener('abort', () => this.abortJob(job), { once: true });
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
    const slot: Slot = { worker, ready: false, gone: false };
    worker.on('message', (m: FromThread) => this.onMessage(slot, m));
    worker.on('error', (err) => this.replace(slot, `processor thread failed: ${err.message}`));
    worker.on('exit', (code) => this.replace(slot, `processor thread exited with code ${code}`));
    return slot;
  }

  private post(slot: Slot, message: ToThread): void {
    slot.worker.postMessage(message);
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.gone || !slot.ready || slot.job || !this.queue.length) continue;
      const job = this.queue.shift() as Job;
      slot.job = job;
      this.post(slot, { type: 'run', id: job.id, processor: job.processor, task: job.task });
    }
  }

  private onMessage(slot: Slot, m: FromThread): void {
    if (m.type === 'ready') {
      slot.ready = true;
      this.pump();
      return;
    }
    const job = slot.job;
    if (!job || job.id !== m.id) return;
    if (m.type === 'log') job.hooks.log[m.level](m.message);
    else if (m.type === 'map') {
      job.hooks.map(m.payloads, m.taskName).then(
        () => this.post(slot, { type: 'mapped', mapId: m.mapId }),
        (err: Error) => this.post(slot, { type: 'mapped', mapId: m.mapId, error: err.message }),
      );
    } else if (m.type === 'done') {
      slot.job = undefined;
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
    const slot = this.slots.find((s) => s.job === job);
    if (!slot) return;
    this.post(slot, { type: 'abort', id: job.id, reason: (job.signal.reason as Error).message });
    setTimeout(() => {
      if (slot.job !== job) return; // it stopped in time
      this.log.warn(
        { processor: job.processor, taskId: job.task.taskId },
        'processor ignored its abort signal; ending its thread',
      );
      slot.job = undefined;
      job.reject(job.signal.reason as Error);
      void slot.worker.terminate();
    }, ABORT_GRACE_MS).unref();
  }

  /** A thread ended: fail what it was running and start a fresh one. */
  private replace(slot: Slot, reason: string): void {
    if (slot.gone) return;
    slot.gone = true;
    const job = slot.job;
    slot.job = undefined;
    if (job) job.reject(new Error(reason));
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
