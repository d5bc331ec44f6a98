import {
  apiViews,
  common,
  DispatchStrategy,
  ExecuteType,
  enumValues,
  TimeExpressionType,
} from '@drover/protocol';
import { z } from 'zod';
import { refineStorableText } from '../store/storable-text.js';
import { refineJobParamsSize } from './params-size.js';
import { MAX_INTERVAL_MS, validateTimeExpression } from './time-expression.js';

// What users write to create or replace a job. Strict: a misspelt option is an
// error naming it, not silently ignored.

// Longer waits are refused (a 400 naming the field): every wait fits a timestamp.
const RetryPolicyInput = common.RetryPolicy.extend({
  initialIntervalMs: z.number().int().min(0).max(MAX_INTERVAL_MS),
  maximumIntervalMs: z.number().int().min(0).max(MAX_INTERVAL_MS),
})
  .partial()
  .strict();

const DEFAULT_INSTANCE_RETRY = {
  maximumAttempts: 1,
  initialIntervalMs: 1_000,
  backoffCoefficient: 2,
  maximumIntervalMs: 60_000,
};

export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

const Instant = z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })]);

export const JobSpecInput = z
  .strictObject({
    name: z.string().trim().min(1).max(128),
    description: z.string().max(2_000).default(''),
    jobParams: apiViews.JsonValue.optional(),
    timeExpressionType: z.enum(enumValues(TimeExpressionType)),
    /** CRON pattern; interval in ms for FIXED_RATE/FIXED_DELAY; ISO time or delay ms for ONE_SHOT. */
    timeExpression: z.string().trim().max(256).optional(),
    timeZone: z
      .string()
      .refine(isTimeZone, 'must be an IANA time zone such as Europe/Paris')
      .default('UTC'),
    executeType: z.enum(enumValues(ExecuteType)).default(ExecuteType.STANDALONE),
    processorName: z.string().trim().min(1).max(256),
    /** 0 means no limit. */
    maxConcurrentInstances: z.number().int().min(0).max(10_000).default(0),
    /** What happens to a run beyond maxConcurrentInstances: wait its turn, or fail at once. */
    concurrencyOverflow: z.enum(['QUEUE', 'FAIL']).default('QUEUE'),
    concurrencyPerWorker: z.number().int().min(1).max(1_024).default(5),
    /** 0 means no timeout (liveness checks still end a run whose TaskTracker vanished). */
    instanceTimeoutMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3_600_000)
      .default(0),
    /** A run not started this long after it became due fails; the server's waitingGiveUpMs (1 h) when absent. */
    scheduleToStartTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(30 * 24 * 3_600_000)
      .optional(),
    instanceRetry: RetryPolicyInput.default({}).transform((r) => ({
      ...DEFAULT_INSTANCE_RETRY,
      ...r,
    })),
    taskRetry: RetryPolicyInput.default({}).transform((r) => ({ ...DEFAULT_INSTANCE_RETRY, ...r })),
    designatedWorkers: z.array(z.string().min(1).max(64)).max(1_000).default([]),
    tags: z.array(z.string().min(1).max(64)).max(64).default([]),
    dispatchStrategy: z.enum(enumValues(DispatchStrategy)).default(DispatchStrategy.HEALTH_FIRST),
    minCpuCores: z.number().min(0).max(1_024).default(0),
    minMemoryMb: z
      .number()
      .int()
      .min(0)
      .max(16 * 1_024 * 1_024)
      .default(0),
    /** 0 means every eligible worker may take part. */
    maxWorkerCount: z.number().int().min(0).max(10_000).default(0),
    lifecycle: z.strictObject({ start: Instant.optional(), end: Instant.optional() }).optional(),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    enabled: z.boolean().default(true),
  })
  .superRefine(refineStorableText)
  .superRefine(refineJobParamsSize)
  .superRefine((spec, ctx) => {
    const problem = validateTimeExpression(
      spec.timeExpressionType,
      spec.timeExpression,
      spec.timeZone,
    );
    if (problem) ctx.addIssue({ code: 'custom', path: ['timeExpression'], message: problem });
    if (
      spec.dispatchStrategy === 'SPECIFY' &&
      !spec.designatedWorkers.length &&
      !spec.tags.length
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['dispatchStrategy'],
        message: 'SPECIFY needs designatedWorkers or tags',
      });
    }
    const start = spec.lifecycle?.start;
    const end = spec.lifecycle?.end;
    if (start !== undefined && end !== undefined && toMs(start) >= toMs(end)) {
      ctx.addIssue({
        code: 'custom',
        path: ['lifecycle', 'end'],
        message: 'must be after lifecycle.start',
      });
    }
  });

export type JobSpec = z.output<typeof JobSpecInput>;

export function toMs(instant: number | string): number {
  return typeof instant === 'number' ? instant : Date.parse(instant);
}
