import { z } from 'zod/v4';
import type { JsonValue } from './json-result.js';

const utf8 = new TextEncoder();

// A workflow run's shared context: a JSON object that job nodes read
// (`ctx.workflow.context`) and add to (`ctx.workflow.set`). What a run adds
// travels with its final report and merges into the run's context.

/** The largest workflow context (and context update), as UTF-8 JSON text. */
export const MAX_CONTEXT_BYTES = 256 * 1024;

/** Size of a context (or update) as the limit counts it: its JSON text in UTF-8 bytes. */
export function contextBytes(value: unknown): number {
  return utf8.encode(JSON.stringify(value) ?? '').length;
}

/** A JSON object within MAX_CONTEXT_BYTES. */
export const WorkflowContext = z
  .record(z.string(), z.json() as z.ZodType<JsonValue>)
  .refine((v) => contextBytes(v) <= MAX_CONTEXT_BYTES, {
    message: `context over ${MAX_CONTEXT_BYTES} bytes of JSON`,
  });
export type WorkflowContext = Record<string, JsonValue>;

/** What a workflow node's run gets with its RunJob (absent outside workflows, and from older servers). */
export const RunJobWorkflow = z.object({
  runId: z.string().regex(/^\d+$/),
  nodeId: z.string().min(1).max(64),
  context: WorkflowContext,
  /** The most bytes the run may add (its update's JSON text). */
  contextLimitBytes: z.number().int().positive(),
});
