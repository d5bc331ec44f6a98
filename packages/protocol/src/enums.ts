// Enumerations shared by every process. `as const` objects instead of TS enums,
// so values stay plain strings on the wire and in Postgres.

export const InstanceStatus = {
  WAITING_DISPATCH: 'WAITING_DISPATCH',
  WAITING_WORKER: 'WAITING_WORKER',
  WAITING_WORKER_RECEIVE: 'WAITING_WORKER_RECEIVE',
  RUNNING: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  STOPPED: 'STOPPED',
  CANCELED: 'CANCELED',
} as const;
export type InstanceStatus = (typeof InstanceStatus)[keyof typeof InstanceStatus];

/** Statuses an instance never leaves. */
export const FINAL_INSTANCE_STATUSES: readonly InstanceStatus[] = [
  InstanceStatus.SUCCEEDED,
  InstanceStatus.FAILED,
  InstanceStatus.STOPPED,
  InstanceStatus.CANCELED,
];

export const TaskStatus = {
  WAITING_DISPATCH: 'WAITING_DISPATCH',
  DISPATCHED: 'DISPATCHED',
  RECEIVED: 'RECEIVED',
  PROCESSING: 'PROCESSING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

export const FINAL_TASK_STATUSES: readonly TaskStatus[] = [TaskStatus.SUCCEEDED, TaskStatus.FAILED];

export const TimeExpressionType = {
  API: 'API',
  CRON: 'CRON',
  FIXED_RATE: 'FIXED_RATE',
  FIXED_DELAY: 'FIXED_DELAY',
  ONE_SHOT: 'ONE_SHOT',
  WORKFLOW: 'WORKFLOW',
} as const;
export type TimeExpressionType = (typeof TimeExpressionType)[keyof typeof TimeExpressionType];

export const ExecuteType = {
  STANDALONE: 'STANDALONE',
  BROADCAST: 'BROADCAST',
  MAP: 'MAP',
  MAP_REDUCE: 'MAP_REDUCE',
} as const;
export type ExecuteType = (typeof ExecuteType)[keyof typeof ExecuteType];

export const DispatchStrategy = {
  HEALTH_FIRST: 'HEALTH_FIRST',
  RANDOM: 'RANDOM',
  SPECIFY: 'SPECIFY',
} as const;
export type DispatchStrategy = (typeof DispatchStrategy)[keyof typeof DispatchStrategy];

/** Helper: the values of an `as const` enum object as a zod-ready tuple. */
export function enumValues<T extends Record<string, string>>(e: T): [T[keyof T], ...T[keyof T][]] {
  return Object.values(e) as [T[keyof T], ...T[keyof T][]];
}
