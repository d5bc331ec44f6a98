import type { TaskData } from './executor.js';

// Messages between the worker's main thread and its processor threads. Tasks
// go out and results come back in batches: a message per task would cost more
// than a no-op task itself.

/** One task for a thread; `scope` groups the tasks that share an abort signal. */
export interface ThreadJob {
  id: number;
  scope: number;
  processor: string;
  task: TaskData;
}

export type JobDone =
  | { id: number; ok: true; value?: string }
  | { id: number; ok: false; message: string; nonRetryable: boolean };

export type ToThread =
  | { type: 'run'; jobs: ThreadJob[] }
  | { type: 'abort'; scope: number; reason: string }
  | { type: 'mapped'; mapId: number; error?: string };

export type FromThread =
  | { type: 'ready' }
  | { type: 'log'; id: number; level: 'debug' | 'info' | 'warn' | 'error'; message: string }
  | { type: 'map'; id: number; mapId: number; payloads: unknown[]; taskName: string }
  | { type: 'done'; jobs: JobDone[] };
