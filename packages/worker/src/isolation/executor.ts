import type { JsonValue } from '@drover/protocol';
import type { OnlineLogger } from '../sdk/online-logger.js';
import type { MapContext, Processor } from '../sdk/processor.js';
import { type RunWorkflow, readOnlyHandle, type WorkflowHandle } from '../sdk/workflow-context.js';
import type { AbortSource } from '../tracker/abort-source.js';
import { callProcessor } from './call-processor.js';
import { StartAt, toProcessClock } from './start-at.js';

/** What every task of a run shares (sent to a thread once per batch, not per task). */
export interface RunData {
  instanceId: string;
  jobId: string;
  jobParams: unknown;
  params: unknown;
  /** The instance's run attempt (1, then 2… for instance retries). */
  runAttempt: number;
  /** A workflow node's run: its run's context and where it belongs. */
  workflow?: RunWorkflow;
}

/** What one task's context carries besides its run's data; it can cross a thread boundary. */
export interface TaskData {
  taskId: string;
  taskName: string;
  attempt: number;
  isRootTask: boolean;
  payload: unknown;
}

/** What stays with the tracker: the online logger and the way to map sub-tasks. */
export interface TaskHooks {
  /** The task's online logger, made on first use: most tasks never log. */
  log(): OnlineLogger;
  map(payloads: readonly unknown[], taskName: string): Promise<void>;
  /** Adds to the run's workflow context update (a standalone run's task); absent: set throws. */
  setContext?(key: string, value: unknown): void;
}

/** Runs a processor's `process` for one task, here or in a worker thread; resolves with its JSON result. */
export interface ProcessorExecutor {
  process(
    processor: Processor,
    run: RunData,
    task: TaskData,
    hooks: TaskHooks,
    abort: AbortSource,
    /** Not before this moment (this thread's monotonic ms): a run handed over ahead of its time. */
    startAt?: number,
  ): Promise<JsonValue>;
  close(): Promise<void>;
}

/** What a task's context is made with besides its run and task data. */
type Tools = Pick<MapContext<unknown>, 'log' | 'map'> & {
  abort: Pick<AbortSource, 'signal'>;
  /** A `ctx.workflow` that may set; else a read-only one when the run has a workflow. */
  workflow?: WorkflowHandle;
};

/**
 * A processor's context for one task, here or in a thread. A class: an
 * object literal with a getter (for the lazy `signal`) costs ~1 µs to make,
 * a class instance ~20 ns (1,000 CRON runs start in one turn). `signal` is
 * made on first read (see abort-source.ts); it lives on the prototype, so a
 * spread copy of the context does not carry it.
 */
class TaskContext {
  readonly instanceId: string;
  readonly jobId: string;
  readonly jobParams: unknown;
  params: unknown;
  readonly runAttempt: number;
  readonly taskId: string;
  readonly taskName: string;
  readonly attempt: number;
  readonly isRootTask: boolean;
  payload: unknown;
  readonly log: MapContext<unknown>['log'];
  readonly map: MapContext<unknown>['map'];
  /** The workflow run this run is a node of (read-only in a map task). */
  readonly workflow: WorkflowHandle | undefined;
  readonly #abort: Pick<AbortSource, 'signal'>;

  constructor(run: RunData, task: TaskData, tools: Tools) {
    this.instanceId = run.instanceId;
    this.jobId = run.jobId;
    this.jobParams = run.jobParams;
    this.params = run.params;
    this.runAttempt = run.runAttempt;
    this.taskId = task.taskId;
    this.taskName = task.taskName;
    this.attempt = task.attempt;
    this.isRootTask = task.isRootTask;
    this.payload = task.payload;
    this.log = tools.log;
    this.map = tools.map;
    this.#abort = tools.abort;
    this.workflow =
      tools.workflow ?? (run.workflow ? readOnlyHandle(run.workflow, 'a map task') : undefined);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }
}

export function taskContext(run: RunData, task: TaskData, tools: Tools): MapContext<unknown> {
  return new TaskContext(run, task, tools) as unknown as MapContext<unknown>;
}

/** Runs processors on this thread's event loop (tests, embedding). */
export class InProcessExecutor implements ProcessorExecutor {
  private readonly held = new StartAt();

  process(
    processor: Processor,
    run: RunData,
    task: TaskData,
    hooks: TaskHooks,
    abort: AbortSource,
    startAt?: number,
  ): Promise<JsonValue> {
    const call = () => {
      const ctx = taskContext(run, task, {
        log: hooks.log(),
        map: hooks.map,
        abort,
        workflow: workflowHandle(run, hooks),
      });
      return callProcessor(processor, ctx);
    };
    if (startAt === undefined) return call();
    return new Promise<JsonValue>((resolve, reject) => {
      this.held.at(toProcessClock(startAt), () => {
        // Stopped while it waited for its time: it never starts.
        if (abort.aborted) reject(abort.reason);
        else call().then(resolve, reject);
      });
    });
  }

  async close(): Promise<void> {}
}

/** `ctx.workflow` of a task whose hooks may set the context (checked where the update is kept). */
export function workflowHandle(run: RunData, hooks: TaskHooks): WorkflowHandle | undefined {
  const wf = run.workflow;
  const set = hooks.setContext;
  if (!wf || !set) return undefined;
  const handle = readOnlyHandle(wf, '');
  return { ...handle, set: (key, value) => set(key, value) };
}
