import { z } from 'zod/v4';
import { enumValues, InstanceStatus } from '../enums.js';
import { WorkflowNodeStatus, WorkflowRunStatus } from '../workflow-statuses.js';

// The HTTP API's response shapes and parameters, shared by the server (which
// also builds its OpenAPI document from them) and every client.

export const ErrorView = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

export const AppView = z.object({ id: z.string(), name: z.string(), createdAt: z.number() });

/** A new NATS worker credential: the seed is in this answer only, never stored or shown again. */
export const NewWorkerKeyView = z.object({ publicKey: z.string(), seed: z.string() });

export const WorkerKeyView = z.object({
  publicKey: z.string(),
  createdAt: z.number(),
  revokedAt: z.number().nullable(),
});

/** A created app with its first worker credential. */
export const CreatedAppView = AppView.extend({ workerKey: NewWorkerKeyView });

/** Every app, for the admin token (the console's app picker). */
export const AppListView = z.object({
  apps: z.array(z.object({ name: z.string(), createdAt: z.number() })),
});

export const JobView = z.object({
  id: z.string(),
  enabled: z.boolean(),
  nextTriggerAt: z.number().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
  spec: z.record(z.string(), z.unknown()),
});

const Progress = z.object({
  total: z.number(),
  succeeded: z.number(),
  failed: z.number(),
  running: z.number(),
});

export const InstanceView = z.object({
  id: z.string(),
  jobId: z.string(),
  status: z.enum(enumValues(InstanceStatus)),
  triggerType: z.string(),
  expectedTriggerAt: z.number().nullable(),
  params: z.unknown(),
  epoch: z.number(),
  runAttempt: z.number(),
  workerId: z.string().nullable(),
  nextDispatchAt: z.number(),
  dispatchedAt: z.number().nullable(),
  startedAt: z.number().nullable(),
  lastReportAt: z.number().nullable(),
  deadlineAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  progress: Progress.nullable(),
  /** The run's result: any JSON value (null until it has one, or when it returned nothing). */
  result: z.unknown(),
  reason: z.string().nullable(),
  retryOf: z.string().nullable(),
  createdAt: z.number(),
});

/** The answer of the bulk run API: each run's instance, in the order asked. */
export const RunsView = z.object({ instances: z.array(InstanceView) });

/** An app's runs per minute (by the minute they finished) and its unfinished runs now. */
export const RunStatsView = z.object({
  minutes: z.number(),
  buckets: z.array(
    z.object({
      /** The minute's start, ms since the epoch. */
      minute: z.number(),
      status: z.enum(enumValues(InstanceStatus)),
      count: z.number(),
    }),
  ),
  /** Runs not started yet (WAITING_* statuses). */
  waiting: z.number(),
  running: z.number(),
});

export const LogLineView = z.object({
  id: z.string(),
  ts: z.number(),
  level: z.string(),
  message: z.string(),
  workerId: z.string(),
  taskId: z.string().nullable(),
});

export const WorkerView = z.object({
  workerId: z.string(),
  alive: z.boolean(),
  version: z.string(),
  tags: z.array(z.string()),
  processors: z.array(z.string()),
  lastSeenAt: z.number(),
  metrics: z.object({
    cpuLoad: z.number(),
    cpuCores: z.number(),
    memoryUsedBytes: z.number(),
    memoryTotalBytes: z.number(),
    freeSlots: z.number(),
    totalSlots: z.number(),
  }),
});

/**
 * Any JSON value (params, results). One shared schema: the server names it as an
 * OpenAPI component, which its recursion needs (an unnamed one leaves a dangling $ref).
 */
export const JsonValue = z.json();

/** Path and query parameters. */
export const Id = z.string().regex(/^[0-9]{1,18}$/, 'must be a numeric id');
export const Limit = z.coerce.number().int().min(1).max(1_000).default(50);

/** A workflow: its spec as saved (job and workflow nodes carry the resolved ids). */
export const WorkflowView = z.object({
  id: z.string(),
  app: z.string(),
  name: z.string(),
  enabled: z.boolean(),
  spec: z.record(z.string(), z.unknown()),
  /** Its next scheduled fire times (CRON and enabled; empty otherwise); in the single-workflow answer. */
  nextFireTimes: z.array(z.number()).optional(),
  createdAt: z.number(),
  updatedAt: z.number(),
});

export { WorkflowRunStatus };

/** A workflow run: its status and context (without its nodes). */
export const WorkflowRunView = z.object({
  id: z.string(),
  workflowId: z.string(),
  status: WorkflowRunStatus,
  triggerType: z.string(),
  /** A CRON run's slot (epoch ms); null for other runs. */
  expectedTriggerAt: z.number().nullable(),
  context: z.unknown(),
  initParams: z.unknown(),
  parentRunId: z.string().nullable(),
  parentNodeId: z.string().nullable(),
  reason: z.string().nullable(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
});

export const WorkflowNodeView = z.object({
  nodeId: z.string(),
  kind: z.string(),
  status: WorkflowNodeStatus,
  attempt: z.number(),
  instanceId: z.string().nullable(),
  childRunId: z.string().nullable(),
  result: z.unknown(),
  reason: z.string().nullable(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  markedSuccess: z.boolean(),
});

/** A workflow run with each of its nodes. */
export const WorkflowRunDetailView = WorkflowRunView.extend({ nodes: z.array(WorkflowNodeView) });
