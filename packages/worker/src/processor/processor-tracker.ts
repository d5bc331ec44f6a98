import { type JsonValue, monotonicMs, type ptMessages, routes } from '@drover/protocol';
import type { Bus, DroverLogger as Logger } from '@drover/transport';
import type { z } from 'zod/v4';
import type { ProcessorExecutor, RunData } from '../isolation/executor.js';
import { type OnlineLogger, RunLogShipper } from '../sdk/online-logger.js';
import { isNonRetryable, NonRetryableError, type Processor } from '../sdk/processor.js';
import { thrownText } from '../sdk/thrown-text.js';
import { signalSource } from '../tracker/abort-source.js';
import { parseRunParams } from '../tracker/run-params.js';
import { mapBatches } from './map-batches.js';
import { fitResult, nextBatchSize } from './result-batches.js';

type StartTasks = z.output<typeof ptMessages.StartTasks>;
type TaskEnvelope = StartTasks['tasks'][number];
type Result = {
  taskId: string;
  attempt: number;
  status: 'SUCCEEDED' | 'FAILED';
  result?: JsonValue;
  nonRetryable?: boolean;
};

const HEARTBEAT_MS = 1_000;
const RESULT_FLUSH_MS = 10;
const RESULT_BATCH = 500;

/**
 * The ProcessorTracker of one run on this worker: runs the tasks its
 * TaskTracker sends, at most `concurrency` at once, reports results in
 * batches with reliableAsk and heartbeats to the TaskTracker.
 */
export class ProcessorTracker {
  private readonly abort = new AbortController();
  private readonly abortSource = signalSource(this.abort.signal);
  private readonly queue: TaskEnvelope[] = [];
  private running = 0;
  private lastActive = monotonicMs();
  private draining = false;
  private idle: (() => void) | undefined;
  private results: Result[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly beat: NodeJS.Timeout;
  private readonly logs: RunLogShipper;
  private readonly tt: { app: string; workerId: string };

  constructor(
    private readonly bus: Bus,
    readonly app: string,
    private readonly workerId: string,
    readonly start: StartTasks,
    private readonly processor: Processor | undefined,
    private readonly concurrency: number,
    private readonly log: Logger,
    private readonly onGone: () => void,
    private readonly executor: ProcessorExecutor,
    /** With nothing queued, running or to report for this long, it stops (its TaskTracker may be gone). */
    private readonly idleMs = 30_000,
  ) {
    this.tt = { app, workerId: start.taskTrackerWorkerId };
    this.logs = new RunLogShipper(bus, app, workerId, start.instanceId, 'info', log);
    this.beat = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
  }

  get epoch(): number {
    return this.start.epoch;
  }

  /** Tasks running now. */
  get busy(): number {
    return this.running;
  }

  enqueue(tasks: TaskEnvelope[]): number {
    if (this.abort.signal.aborted || this.draining) return 0;
    this.lastActive = monotonicMs();
    this.queue.push(...tasks);
    this.pump();
    return tasks.length;
  }

  stop(reason: string): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort(new Error(reason));
    this.queue.length = 0;
    clearInterval(this.beat);
    void this.logs.flush().finally(() => this.onGone());
  }

  /**
   * Worker shutdown: takes no new tasks, lets running ones finish (until
   * `stop`), reports their results, then gives every other task it holds
   * back to the TaskTracker, which dispatches them elsewhere at once.
   */
  async drain(): Promise<void> {
    if (this.abort.signal.aborted) return;
    this.draining = true;
    this.queue.length = 0;
    if (this.running > 0) {
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        this.abort.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    await this.flush();
    try {
      await this.bus.ask(routes.tt.releaseTasks, this.tt, {
        instanceId: this.start.instanceId,
        workerId: this.workerId,
        reason: 'worker shutting down',
      });
    } catch (err) {
      // Its silence gives them back too, a few seconds later.
      this.log.debug({ err: (err as Error).message }, 'could not release tasks');
    }
    this.stop('worker shutting down');
  }

  private heartbeat(): void {
    if (this.running === 0 && this.queue.length === 0 && this.results.length === 0) {
      // A TaskTracker that died leaves its ProcessorTrackers idle: they must not beat forever.
      if (monotonicMs() - this.lastActive > this.idleMs) {
        this.log.info({ idleMs: this.idleMs }, 'idle ProcessorTracker stops');
        this.stop('idle');
        return;
      }
    } else this.lastActive = monotonicMs();
    try {
      this.bus.tell(routes.tt.ptHeartbeat, this.tt, {
        instanceId: this.start.instanceId,
        workerId: this.workerId,
        freeSlots: Math.max(0, this.concurrency - this.running),
        running: this.running,
        sentAt: Date.now(),
      });
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'pt heartbeat not sent');
    }
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length && !this.abort.signal.aborted) {
      const task = this.queue.shift() as TaskEnvelope;
      this.running++;
      void this.runTask(task).finally(() => {
        this.running--;
        if (this.running === 0) this.idle?.();
        this.pump();
      });
    }
  }

  private run: RunData | undefined;

  /** What the run's tasks share; params are checked once (a bad value fails every task alike). */
  private runData(processor: Processor): RunData {
    if (!this.run) {
      const parsed = parseRunParams(processor, this.start);
      if (!parsed.ok) throw new Error(parsed.result);
      this.run = {
        instanceId: this.start.instanceId,
        jobId: this.start.jobId,
        jobParams: this.start.jobParams,
        params: parsed.params,
        runAttempt: this.start.runAttempt ?? 1,
        // Tasks read the workflow context; setting it is the TaskTracker's (see ctx.workflow.set).
        workflow: this.start.workflow,
      };
    }
    return this.run;
  }

  private async runTask(task: TaskEnvelope): Promise<void> {
    const processor = this.processor;
    let outcome: Result;
    try {
      if (!processor)
        throw new NonRetryableError(
          `no processor named "${this.start.processorName}" on worker ${this.workerId}`,
        );
      const run = this.runData(processor);
      let seq = 0;
      const data = {
        taskId: task.taskId,
        taskName: task.taskName,
        attempt: task.attempt,
        isRootTask: task.taskId === 'root',
        payload: task.payload,
      };
      let logger: OnlineLogger | undefined;
      const hooks = {
        log: () => {
          logger ??= this.logs.forTask(task.taskId);
          return logger;
        },
        map: (payloads: unknown[], taskName: string) => this.map(task, ++seq, payloads, taskName),
      };
      const result = await this.executor.process(processor, run, data, hooks, this.abortSource);
      outcome = fitResult(
        { taskId: task.taskId, attempt: task.attempt, status: 'SUCCEEDED', result },
        this.bus.maxPayload,
      );
    } catch (err) {
      const message = thrownText(err);
      outcome = {
        taskId: task.taskId,
        attempt: task.attempt,
        status: 'FAILED',
        result: message.slice(0, 4_096),
        nonRetryable: isNonRetryable(err),
      };
    }
    if (this.abort.signal.aborted) return;
    this.results.push(outcome);
    if (this.results.length >= RESULT_BATCH) void this.flush();
    else this.flushTimer ??= setTimeout(() => void this.flush(), RESULT_FLUSH_MS);
  }

  /**
   * Sends sub-tasks to the TaskTracker. Task ids derive from the parent and
   * position, so a parent that runs again maps the same ids and nothing is
   * stored twice; each batch keeps its id across retries.
   */
  private async map(
    parent: TaskEnvelope,
    seq: number,
    payloads: unknown[],
    taskName: string,
  ): Promise<void> {
    const prefix = `${parent.taskId}.${seq}`;
    for (const batch of mapBatches(payloads, this.bus.maxPayload / 2)) {
      const batchId = `${prefix}@${batch.offset}`;
      await this.bus.reliableAsk(
        routes.tt.mapTask,
        this.tt,
        {
          instanceId: this.start.instanceId,
          epoch: this.start.epoch,
          workerId: this.workerId,
          batchId,
          parentTaskId: parent.taskId,
          parentAttempt: parent.attempt,
          taskName,
          tasks: batch.payloads.map((payload, i) => ({
            taskId: `${prefix}.${batch.offset + i}`,
            payload,
          })),
        },
        { deadlineMs: 60_000, idempotencyKey: batchId, signal: this.abort.signal },
      );
    }
  }

  private flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.flushing = this.flushing.then(async () => {
      while (this.results.length && !this.abort.signal.aborted) {
        const count = nextBatchSize(this.results, this.bus.maxPayload, RESULT_BATCH);
        const results = this.results.splice(0, count);
        try {
          await this.bus.reliableAsk(
            routes.tt.reportTaskStatus,
            this.tt,
            { instanceId: this.start.instanceId, workerId: this.workerId, results },
            { deadlineMs: 30_000, signal: this.abort.signal },
          );
        } catch (err) {
          // The TaskTracker is gone (or refused): nobody wants these results any more.
          this.log.warn(
            { err: (err as Error).message },
            'TaskTracker unreachable; stopping this ProcessorTracker',
          );
          this.stop('TaskTracker unreachable');
        }
      }
    });
    return this.flushing;
  }
}
