import type { JsonValue } from '@drover/protocol';
import { toJsonResult } from '../sdk/json-result.js';
import { checkPayload } from '../sdk/payload-schema.js';
import type { MapContext, ProcessOutcome, Processor } from '../sdk/processor.js';

/**
 * Runs a processor's `process` for one task, wherever it runs (a processor
 * thread or this one): a mapped task's payload is checked by the processor's
 * payload schema first, and what it returns must be JSON (it is the task's
 * result as sent and stored).
 */
export async function callProcessor(
  processor: Processor,
  ctx: MapContext<unknown>,
): Promise<JsonValue> {
  if ((processor.kind === 'map' || processor.kind === 'mapReduce') && processor.payload) {
    if (!ctx.isRootTask) {
      const where = `task ${ctx.taskId} of processor "${processor.name}"`;
      ctx.payload = await checkPayload(processor.payload, ctx.payload, where);
    }
  }
  const process = processor.process as (
    c: MapContext<unknown>,
  ) => ProcessOutcome | Promise<ProcessOutcome>;
  return toJsonResult(await process(ctx));
}
