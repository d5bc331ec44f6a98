import type { JsonValue } from '@drover/protocol';
import type { RunData } from './executor.js';

// Messages between the worker's main thread and its processor threads. Tasks
// go out and results come back in batches, laid out as columns: a message, or
// even a cloned object, per task would cost more than a no-op task itself.

/** A run's tasks in one batch share its data, processor and abort scope. */
export interface ScopeData {
  scope: number;
  processor: string;
  run: RunData;
}

/** Tasks for a thread, one entry per task in each column. */
export interface JobBatch {
  ids: number[];
  scopes: number[];
  taskIds: string[];
  taskNames: string[];
  attempts: number[];
  payloads: unknown[];
  /** Start each at this time on the process clock (a run handed over ahead of its time); 0: at once. */
  startAts: number[];
}

/** Finished tasks: successes with their result, failures with their error. */
export interface DoneBatch {
  ok: number[];
  values: JsonValue[];
  failed: { id: number; message: string; nonRetryable: boolean }[];
}

export type ToThread =
  /** `seq` comes back in an `ack` once the thread's event loop turns after starting them. */
  | ({ type: 'run'; seq: number; runs: ScopeData[] } & JobBatch)
  | { type: 'abort'; scope: number; reason: string }
  /** Answered with an `ack` of `seq` as soon as the thread's event loop is free. */
  | { type: 'ping'; seq: number }
  | { type: 'mapped'; mapId: number; error?: string };

export type FromThread =
  | { type: 'ready' }
  | { type: 'ack'; seq: number }
  | { type: 'log'; id: number; level: 'debug' | 'info' | 'warn' | 'error'; message: string }
  | { type: 'map'; id: number; mapId: number; payloads: readonly unknown[]; taskName: string }
  /** ctx.workflow.set in a standalone processor (checked in the thread first). */
  | { type: 'context'; id: number; key: string; value: unknown }
  | ({ type: 'done' } & DoneBatch);
