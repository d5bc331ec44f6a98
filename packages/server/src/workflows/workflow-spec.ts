import { apiViews, common } from '@drover/protocol';
import { z } from 'zod';
import { isTimeZone, toMs } from '../jobs/job-spec.js';
import { validateTimeExpression } from '../jobs/time-expression.js';
import { refineStorableText } from '../store/storable-text.js';

// What users write to create or replace a workflow (JSON, or YAML through the
// CLI). Strict: a misspelt option is an error naming it. This file checks each
// node and edge on its own; `validate-workflow.ts` checks the graph (acyclic,
// connected, references) and resolves job and workflow names to ids.

/** Node ids appear in paths, subjects and CLI output: short and plain. */
export const NodeId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -');

const NodeCommon = {
  id: NodeId,
  /** A disabled node is passed over (DISABLED): its successors run as if it succeeded. */
  enabled: z.boolean().default(true),
  /** When it fails, the workflow goes on as if it succeeded (its context update is not merged). */
  skipWhenFailed: z.boolean().default(false),
};

const RetryOverride = common.RetryPolicy.partial().strict();

export const JobNode = z.strictObject({
  ...NodeCommon,
  kind: z.literal('job'),
  /** The job's name or id in this app; resolved to `jobId` when the workflow is saved. */
  job: z.string().trim().min(1).max(128),
  jobId: z.string().regex(/^\d+$/).optional(),
  /** The instance params of this node's run (the job's jobParams stay as they are). */
  params: apiViews.JsonValue.optional(),
  /** Overrides the job's instanceRetry for this node's run. */
  retry: RetryOverride.optional(),
});

export const DecisionNode = z.strictObject({
  ...NodeCommon,
  kind: z.literal('decision'),
  /** A CEL expression over `context` that yields a boolean; its out-edges say `when: true|false`. */
  expression: z.string().trim().min(1).max(4_096),
});

export const WorkflowNode = z.strictObject({
  ...NodeCommon,
  kind: z.literal('workflow'),
  /** Another workflow of this app, by name or id; resolved to `workflowId` when saved. */
  workflow: z.string().trim().min(1).max(128),
  workflowId: z.string().regex(/^\d+$/).optional(),
});

export const WaitNode = z
  .strictObject({
    ...NodeCommon,
    kind: z.literal('wait'),
    delayMs: z
      .number()
      .int()
      .min(0)
      .max(365 * 24 * 3_600_000)
      .optional(),
    until: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((n) => (n.delayMs === undefined) !== (n.until === undefined), {
    message: 'a wait node needs exactly one of delayMs or until',
    path: ['delayMs'],
  });

export const DagNode = z.discriminatedUnion('kind', [
  JobNode,
  DecisionNode,
  WorkflowNode,
  WaitNode,
]);
export type DagNode = z.output<typeof DagNode>;

export const DagEdge = z.strictObject({
  from: NodeId,
  to: NodeId,
  /** Only on edges out of a decision node: taken when the decision's value equals it. */
  when: z.boolean().optional(),
});
export type DagEdge = z.output<typeof DagEdge>;

export const WorkflowSchedule = z
  .strictObject({
    /** CRON (a pattern with seconds), API (runs only when asked). */
    type: z.enum(['CRON', 'API']),
    expression: z.string().trim().max(256).optional(),
    timeZone: z
      .string()
      .refine(isTimeZone, 'must be an IANA time zone such as Europe/Paris')
      .default('UTC'),
  })
  .superRefine((s, ctx) => {
    const problem = validateTimeExpression(s.type, s.expression, s.timeZone);
    if (problem) ctx.addIssue({ code: 'custom', path: ['expression'], message: problem });
  });

const Instant = z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })]);

export const WorkflowSpecInput = z
  .strictObject({
    name: z.string().trim().min(1).max(128),
    description: z.string().max(2_000).default(''),
    schedule: WorkflowSchedule.default({ type: 'API', timeZone: 'UTC' }),
    /** 0 means no limit. */
    maxConcurrentRuns: z.number().int().min(0).max(10_000).default(1),
    /** A run beyond maxConcurrentRuns: wait its turn (WAITING), or fail at once. */
    concurrencyOverflow: z.enum(['QUEUE', 'FAIL']).default('QUEUE'),
    /** When a node fails: stop the run's other running nodes, or let them finish first. */
    onNodeFailure: z.enum(['STOP_OTHERS', 'LET_FINISH']).default('STOP_OTHERS'),
    lifecycle: z.strictObject({ start: Instant.optional(), end: Instant.optional() }).optional(),
    /** true on create; an update without it keeps the stored value (a file need not repeat it). */
    enabled: z.boolean().optional(),
    nodes: z.array(DagNode).min(1).max(500),
    edges: z.array(DagEdge).max(5_000).default([]),
  })
  .superRefine(refineStorableText)
  .superRefine((spec, ctx) => {
    const start = spec.lifecycle?.start;
    const end = spec.lifecycle?.end;
    if (start !== undefined && end !== undefined && toMs(start) >= toMs(end))
      ctx.addIssue({
        code: 'custom',
        path: ['lifecycle', 'end'],
        message: 'must be after lifecycle.start',
      });
  });
/** A spec as the API takes it (`enabled` may be left out). */
export type WorkflowSpecBody = z.output<typeof WorkflowSpecInput>;
/** A spec as stored: `enabled` always set. */
export type WorkflowSpec = Omit<WorkflowSpecBody, 'enabled'> & { enabled: boolean };

/** The most nested-workflow levels below a run (a run at depth 0 may start depth 1…). */
export const MAX_WORKFLOW_DEPTH = 5;
/** The largest workflow context, as JSON text. */
export const MAX_CONTEXT_BYTES = 256 * 1024;
