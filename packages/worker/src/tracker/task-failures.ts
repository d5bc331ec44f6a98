import type { TaskOutcome } from '../sdk/processor.js';

/**
 * Why a run whose tasks failed ends FAILED: how many of how many, and the
 * first failure with its error. Undefined when no task failed.
 */
export function failedTasksReason(results: TaskOutcome[]): string | undefined {
  let failed = 0;
  let first: TaskOutcome | undefined;
  for (const r of results) {
    if (r.status !== 'FAILED') continue;
    failed++;
    first ??= r;
  }
  if (!first) return undefined;
  return `${failed} of ${results.length} tasks failed; first: ${first.taskId}: ${first.result}`;
}
