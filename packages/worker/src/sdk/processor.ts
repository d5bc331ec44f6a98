import type { z } from 'zod';
import type { OnlineLogger } from './online-logger.js';

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
  /** 1 for the first try of this task. */
  attempt: number;
  /** Lines shipped to the server, readable with `drover instance logs`. */
  log: OnlineLogger;
  /** Aborted when the run is stopped or times out: long work should watch it. */
  signal: AbortSignal;
}

/** A processor returns a result string (or nothing) for success and throws for failure. */
export type ProcessOutcome = string | undefined | void;

export interface BasicProcessor<P = unknown> {
  kind: 'basic';
  name: string;
  /** Validates the run's params before anything runs; a mismatch fails the run with the field named. */
  params?: z.ZodType<P>;
  process(ctx: ProcessorContext<P>): ProcessOutcome | Promise<ProcessOutcome>;
}

export type Processor = BasicProcessor<never> | BasicProcessor<unknown>;

/** Defines a standalone processor: one run, one call. */
export function basicProcessor<P = unknown>(
  definition: Omit<BasicProcessor<P>, 'kind'>,
): BasicProcessor<P> {
  return { kind: 'basic', ...definition };
}

/** Throw this to fail without retries (bad input that a retry cannot fix). */
export class NonRetryableError extends Error {
  override name = 'NonRetryableError';
}
