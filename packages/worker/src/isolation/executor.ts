import type { JsonValue } from '@drover/protocol';
import type { OnlineLogger } from '../sdk/online-logger.js';
import type { MapContext, Processor } from '../sdk/processor.js';
import { type RunWorkflow, readOnlyHandle, type WorkflowHandle } from '../sdk/workflow-context.js';
import { callProcessor } from './call-processor.js';

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
    signal: AbortSignal,
  ): Promise<JsonValue>;
  close(): Promise<void>;
}

/**
 * A processor's context for one task, here or in a thread. Fields are named
 * one by one: spreading the two objects cost ~7 µs a task, a third of
 * starting a timed run (1,000 CRON runs start in one turn).
 */
export function taskContext(
  run: RunData,
  task: TaskData,
  tools: Pick<MapContext<unknown>, 'log' | 'map' | 'signal'> & { workflow?: WorkflowHandle },
): MapContext<unknown> {
  return {
    instanceId: run.instanceId,
    jobId: run.jobId,
    jobParams: run.jobParams,
    params: run.params,
    runAttempt: run.runAttempt,
    taskId: task.taskId,
    taskName: task.taskName,
    attempt: task.attempt,
    isRootTask: task.isRootTask,
    payload: task.payload,
    log: tools.log,
    map: tools.map,
    signal: tools.signal,
    workflow:
      tools.workflow ?? (run.workflow ? readOnlyHandle(run.workflow, 'a map task') : undefined),
  } as MapContext<unknown>;
}

/** Runs processors on this thread's event loop (tests, embedding). */
export class InProcessExecutor implements ProcessorExecutor {
  process(
    processor: Processor,
    run: RunData,
    task: TaskData,
    hooks: TaskHooks,
    signal: AbortSignal,
  ): Promise<JsonValue> {
    const ctx = taskContext(run, task, {
      log: hooks.log(),
      map: hooks.map,
      signal,
      workflow: workflowHandle(run, hooks),
    });
    return callProcessor(processor, ctx);
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
