import type { TaskData } from './executor.js';

// Messages between the worker's main thread and its processor threads.

export type ToThread =
  | { type: 'run'; id: number; processor: string; task: TaskData }
  | { type: 'abort'; id: number; reason: string }
  | { type: 'mapped'; mapId: number; error?: string };

export type FromThread =
  | { type: 'ready' }
  | { type: 'log'; id: number; level: 'debug' | 'info' | 'warn' | 'error'; message: string }
  | { type: 'map'; id: number; mapId: number; payloads: unknown[]; taskName: string }
  | { type: 'done'; id: number; ok: true; value?: string }
  | { type: 'done'; id: number; ok: false; message: string; nonRetryable: boolean };
