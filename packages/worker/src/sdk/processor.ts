import type { JsonValue } from '@drover/protocol';
import type { OnlineLogger } from './online-logger.js';
import type { StandardSchemaV1 } from './standard-schema.js';
import type { WorkflowHandle } from './workflow-context.js';

/**
 * A schema for a run's params: any Standard Schema object (zod 3.24+ or 4,
 * valibot, ...), so a processor module may use the zod its project has.
 */
export type ParamsSchema<P> = StandardSchemaV1<unknown, P>;

/** What a processor sees of the run it works for. */
export interface ProcessorContext<P = unknown> {
  instanceId: string;
  jobId: string;
  /** The job's params, as configured on the job. */
  jobParams: unknown;
  /** This run's params (validated by the processor's schema when it has one). */
  params: P;
  taskId: string;
  taskName: string;
  /** 1 for the first try of this task (task retries count up). */
  attempt: number;
  /** 1 for the instance's first run; its instance retries (the job's instanceRetry) count up. */
  runAttempt: number;
  /** Lines shipped to the server, readable with `drover instance logs`. */
  log: OnlineLogger;
  /** Aborted when the run is stopped or times out: long work should watch it. */
  signal: AbortSignal;
  /** The workflow run this run is a node of; undefined outside workflows. */
  workflow?: WorkflowHandle;
}

/**
 * A processor returns its result for success (any JSON value, or nothing: a
 * null result) and throws for failure. Objects must be plain JSON: a result
 * that is not (undefined inside, NaN, a BigInt, a Date, a cycle) fails the
 * task, naming where (checked at run time, as an interface type is an `object`).
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a processor that returns nothing succeeds with a null result
export type ProcessOutcome = JsonValue | object | undefined | void;

export interface BasicProcessor<P = unknown> {
  kind: 'basic';
  name: string;
  /** Validates the run's params before anything runs; a mismatch fails the run with the field named. */
  params?: ParamsSchema<P>;
  process(ctx: ProcessorContext<P>): ProcessOutcome | Promise<ProcessOutcome>;
}

/** Defines a standalone processor: one run, one call. */
export function basicProcessor<P = unknown>(
  definition: Omit<BasicProcessor<P>, 'kind'>,
): BasicProcessor<P> {
  return { kind: 'basic', ...definition };
}

/**
 * A task's context in a map or map-reduce run, generic over the payload `T`
 * its tasks are mapped with: the root task has none (null), every other task
 * has the `T` it was mapped with (`if (ctx.isRootTask)` tells them apart).
 */
export type MapContext<P = unknown, T = unknown> = ProcessorContext<P> & {
  /** Hands sub-tasks to the run's TaskTracker; resolves once they are stored (exactly once). */
  map(payloads: readonly T[], taskName: string): Promise<void>;
} & (
    | {
        /** True for the first task of the run, the one that usually splits the work. */
        isRootTask: true;
        payload: null;
      }
    | {
        isRootTask: false;
        /** The payload this task was mapped with (checked by the processor's `payload` schema). */
        payload: T;
      }
  );

/** What reduce and postProcess see of each finished task. */
export interface TaskOutcome {
  taskId: string;
  taskName: string;
  status: 'SUCCEEDED' | 'FAILED';
  /** The task's JSON result (null when it returned nothing); a failure's error text. */
  result: JsonValue;
}

/** A schema for a map task's payload: any Standard Schema object (zod 3.24+ or 4, valibot, ...). */
export type PayloadSchema<T> = StandardSchemaV1<unknown, T>;

export interface MapProcessor<P = unknown, T = unknown> {
  kind: 'map';
  name: string;
  params?: ParamsSchema<P>;
  /**
   * Validates each mapped task's payload before `process` sees it; a payload
   * it rejects fails that task (not retried), naming the issues.
   */
  payload?: PayloadSchema<T>;
  process(ctx: MapContext<P, T>): ProcessOutcome | Promise<ProcessOutcome>;
}

export interface MapReduceProcessor<P = unknown, T = unknown> {
  kind: 'mapReduce';
  name: string;
  params?: ParamsSchema<P>;
  /** As for a map processor: checks each mapped task's payload. */
  payload?: PayloadSchema<T>;
  process(ctx: MapContext<P, T>): ProcessOutcome | Promise<ProcessOutcome>;
  /**
   * When true, `reduce` runs even if some tasks FAILED (it sees their status
   * and error). By default a run with a FAILED task ends FAILED without reduce.
   */
  reducePartial?: boolean;
  /** Runs once on the TaskTracker when every task is final, each counted once. */
  reduce(
    ctx: ProcessorContext<P>,
    results: TaskOutcome[],
  ): ProcessOutcome | Promise<ProcessOutcome>;
}

export interface BroadcastProcessor<P = unknown> {
  kind: 'broadcast';
  name: string;
  params?: ParamsSchema<P>;
  /** Runs once on the TaskTracker before the broadcast. */
  preProcess?(ctx: ProcessorContext<P>): ProcessOutcome | Promise<ProcessOutcome>;
  /** Runs once on every worker taking part. */
  process(ctx: ProcessorContext<P>): ProcessOutcome | Promise<ProcessOutcome>;
  /** Runs once on the TaskTracker with every worker's outcome. */
  postProcess?(
    ctx: ProcessorContext<P>,
    results: TaskOutcome[],
  ): ProcessOutcome | Promise<ProcessOutcome>;
}

// `unknown` params: processors of any params type fit (process is a method, so its
// context parameter is checked bivariantly).
export type Processor =
  | BasicProcessor<unknown>
  | MapProcessor<unknown, unknown>
  | MapReduceProcessor<unknown, unknown>
  | BroadcastProcessor<unknown>;

/** Defines a map processor: the root task maps sub-tasks, any task may map more. */
export function mapProcessor<P = unknown, T = unknown>(
  definition: Omit<MapProcessor<P, T>, 'kind'>,
): MapProcessor<P, T> {
  return { kind: 'map', ...definition };
}

/** Defines a map-reduce processor: map like `mapProcessor`, then `reduce` once over all results. */
export function mapReduceProcessor<P = unknown, T = unknown>(
  definition: Omit<MapReduceProcessor<P, T>, 'kind'>,
): MapReduceProcessor<P, T> {
  return { kind: 'mapReduce', ...definition };
}

/** Defines a broadcast processor: preProcess, process on every worker, postProcess. */
export function broadcastProcessor<P = unknown>(
  definition: Omit<BroadcastProcessor<P>, 'kind'>,
): BroadcastProcessor<P> {
  return { kind: 'broadcast', ...definition };
}

/** Throw this to fail without retries (bad input that a retry cannot fix). */
export class NonRetryableError extends Error {
  override name = 'NonRetryableError';
}

/**
 * Known by its name, not its class: a processor module without @drover/worker
 * installed throws its own, and a processor thread's error crosses as a name.
 */
export const isNonRetryable = (err: unknown): boolean =>
  err instanceof Error && err.name === 'NonRetryableError';
