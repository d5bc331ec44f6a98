import type {
  DispatchStrategy,
  ExecuteType,
  InstanceStatus,
  TimeExpressionType,
} from '@drover/protocol';

// What a caller sends. The server validates every field (and names the one
// that is wrong in a DroverApiError's issues); these types catch typos early.

/** A JSON value, as params and results travel. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface RetryPolicyInput {
  maximumAttempts?: number;
  initialIntervalMs?: number;
  backoffCoefficient?: number;
  maximumIntervalMs?: number;
}

/** A job's options, as `POST /jobs` takes them; absent options take the server's defaults. */
export interface JobSpecInput {
  name: string;
  processorName: string;
  timeExpressionType: TimeExpressionType;
  /** CRON pattern; interval in ms for FIXED_RATE/FIXED_DELAY; ISO time or delay ms for ONE_SHOT. */
  timeExpression?: string;
  description?: string;
  jobParams?: Json;
  timeZone?: string;
  executeType?: ExecuteType;
  maxConcurrentInstances?: number;
  concurrencyOverflow?: 'QUEUE' | 'FAIL';
  concurrencyPerWorker?: number;
  instanceTimeoutMs?: number;
  scheduleToStartTimeoutMs?: number;
  instanceRetry?: RetryPolicyInput;
  taskRetry?: RetryPolicyInput;
  designatedWorkers?: string[];
  tags?: string[];
  dispatchStrategy?: DispatchStrategy;
  minCpuCores?: number;
  minMemoryMb?: number;
  maxWorkerCount?: number;
  lifecycle?: { start?: number | string; end?: number | string };
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  enabled?: boolean;
}

/** One run of a job. */
export interface RunInput {
  /** The instance's params (JSON). */
  params?: Json;
  /** Start this long from now; default at once. */
  delayMs?: number;
  /** A second run with the same key returns the first run's instance. */
  idempotencyKey?: string;
}

export interface ListJobsQuery {
  /** The `next` of the previous page. */
  after?: string;
  /** 1 to 1,000; default 50. */
  limit?: number;
}

export interface ListInstancesQuery {
  jobId?: string;
  status?: InstanceStatus | InstanceStatus[];
  /** The `next` of the previous page (instances come newest first). */
  before?: string;
  /** Runs dispatched to this worker. */
  workerId?: string;
  /** Created at or after this time (ms since the epoch). */
  createdAfter?: number;
  /** Created before this time (ms since the epoch). */
  createdBefore?: number;
  /** 1 to 1,000; default 50. */
  limit?: number;
}

interface NodeInput {
  /** 1-64 letters, digits, _ or -; unique in the workflow. */
  id: string;
  /** A disabled node is passed over: its successors run as if it succeeded. */
  enabled?: boolean;
  /** When it fails, the workflow goes on as if it succeeded. */
  skipWhenFailed?: boolean;
}

/** A workflow node: a job of the app, a decision, a nested workflow, or a wait. */
export type WorkflowNodeInput = NodeInput &
  (
    | { kind: 'job'; job: string; params?: Json; retry?: RetryPolicyInput }
    | { kind: 'decision'; expression: string }
    | { kind: 'workflow'; workflow: string }
    | { kind: 'wait'; delayMs?: number; until?: string }
  );

/** A workflow's spec, as `POST /workflows` takes it; absent options take the server's defaults. */
export interface WorkflowSpecInput {
  name: string;
  description?: string;
  schedule?: { type: 'CRON' | 'API'; expression?: string; timeZone?: string };
  maxConcurrentRuns?: number;
  concurrencyOverflow?: 'QUEUE' | 'FAIL';
  onNodeFailure?: 'STOP_OTHERS' | 'LET_FINISH';
  lifecycle?: { start?: number | string; end?: number | string };
  /** true on create; an update without it keeps the stored value. */
  enabled?: boolean;
  nodes: WorkflowNodeInput[];
  /** `when` only (and always) on edges out of a decision. */
  edges?: { from: string; to: string; when?: boolean }[];
}

/** One run of a workflow. */
export interface WorkflowRunInput {
  /** The run's init params; an object is also its starting context. */
  initParams?: Json;
  /** A second run with the same key answers the first run. */
  idempotencyKey?: string;
}

export interface ListWorkflowRunsQuery {
  workflowId?: string;
  status?: 'WAITING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'STOPPED';
  /** The `next` of the previous page (runs come newest first). */
  beforeId?: string;
  /** 1 to 1,000; default 50. */
  limit?: number;
}
