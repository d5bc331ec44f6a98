import { common, type JsonValue } from '@drover/protocol';
import { valueBytes } from '../value-bytes.js';

// Task results travel to the TaskTracker in `report_task_status` batches, each
// one NATS message. A batch is cut by bytes as well as by count, and a result
// no batch can carry fails its own task, naming its size, instead of failing
// the whole report (and with it the ProcessorTracker).

export interface TaskResultOut {
  taskId: string;
  attempt: number;
  status: 'SUCCEEDED' | 'FAILED';
  result?: JsonValue;
  nonRetryable?: boolean;
}

/** Room in a report for everything but its results (ids, envelope, headers). */
export const REPORT_OVERHEAD_BYTES = 8 * 1024;
// Per result besides its value: task id, attempt, status and msgpack framing.
const PER_RESULT_BYTES = 64;

/** Bytes a result takes in a report (an upper bound). */
export function resultBytes(r: TaskResultOut): number {
  return PER_RESULT_BYTES + r.taskId.length + valueBytes(r.result);
}

/**
 * The outcome as reported: a success whose result is longer than
 * MAX_RESULT_CHARS (a string's length, or its JSON text's), or bigger than a report can carry, fails its task for
 * good (the same processor would return it again), saying why.
 */
export function fitResult(outcome: TaskResultOut, maxReportBytes: number): TaskResultOut {
  const chars = common.resultChars(outcome.result ?? null);
  const maxBytes = maxReportBytes - REPORT_OVERHEAD_BYTES;
  let problem: string | undefined;
  if (chars > common.MAX_RESULT_CHARS)
    problem = `${chars} characters, over the ${common.MAX_RESULT_CHARS}-character limit`;
  else if (resultBytes(outcome) > maxBytes)
    problem = `${valueBytes(outcome.result)} bytes, over the ${maxBytes - PER_RESULT_BYTES - outcome.taskId.length}-byte room in a report (NATS max_payload ${maxReportBytes})`;
  if (!problem) return outcome;
  return {
    taskId: outcome.taskId,
    attempt: outcome.attempt,
    status: 'FAILED',
    result: `task result too large: ${problem}; store large results elsewhere and return a reference`,
    nonRetryable: true,
  };
}

/** How many of the first results go in the next report: at least one, at most `maxCount`. */
export function nextBatchSize(
  results: TaskResultOut[],
  maxReportBytes: number,
  maxCount: number,
): number {
  const budget = maxReportBytes - REPORT_OVERHEAD_BYTES;
  let bytes = 0;
  let n = 0;
  while (n < results.length && n < maxCount) {
    bytes += resultBytes(results[n] as TaskResultOut);
    if (bytes > budget && n > 0) break;
    n++;
  }
  return n;
}
