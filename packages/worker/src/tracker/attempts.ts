import type { common, JsonValue } from '@drover/protocol';
import type { z } from 'zod/v4';
import { toJsonResult } from '../sdk/json-result.js';
import { isNonRetryable, type ProcessOutcome } from '../sdk/processor.js';
import { thrownText } from '../sdk/thrown-text.js';
import type { AbortSource } from './abort-source.js';
import { setLongTimeout } from './long-timeout.js';

type RetryPolicy = z.output<typeof common.RetryPolicy>;

export type Outcome = {
  status: 'SUCCEEDED' | 'FAILED' | 'STOPPED';
  /** The JSON result of a success; the reason text of anything else. */
  result: JsonValue;
  /** FAILED by a NonRetryableError: the server must not retry the instance either. */
  nonRetryable?: boolean;
};

/** Wait after try `attempt` fails: initial × coefficient^(attempt-1), capped. */
export function backoffDelayMs(policy: RetryPolicy, attempt: number): number {
  return Math.min(
    policy.initialIntervalMs * policy.backoffCoefficient ** (attempt - 1),
    policy.maximumIntervalMs,
  );
}

/** Waits `ms` (any length), or rejects at once when `abort` aborts. */
export function sleep(ms: number, abort: AbortSource): Promise<void> {
  return new Promise((resolve, reject) => {
    if (abort.aborted) return reject(abort.reason);
    const timer = setLongTimeout(() => {
      forget();
      resolve();
    }, ms);
    const forget = abort.onAbort(() => {
      timer.clear();
      reject(abort.reason);
    });
  });
}

const describe = thrownText;

/**
 * Runs `work` up to the policy's attempts with exponential backoff. A
 * NonRetryableError or an abort ends it at once. (`signal`: no AbortSignal
 * is made for it, see abort-source.ts.)
 */
export async function withAttempts(
  policy: RetryPolicy,
  signal: AbortSource,
  work: (attempt: number) => Promise<ProcessOutcome>,
): Promise<Outcome> {
  let last = '';
  let nonRetryable = false;
  for (let attempt = 1; attempt <= policy.maximumAttempts; attempt++) {
    if (signal.aborted) break;
    try {
      // reduce, preProcess and postProcess run here, not through an executor: checked here too.
      const result = toJsonResult(await work(attempt));
      // Told to stop meanwhile (a timeout, a stop, a hand-back): what it returns then does not count.
      if (signal.aborted) break;
      return { status: 'SUCCEEDED', result };
    } catch (err) {
      last = describe(err);
      nonRetryable = isNonRetryable(err);
      if (signal.aborted || nonRetryable) break;
      if (attempt < policy.maximumAttempts) {
        const delay = backoffDelayMs(policy, attempt);
        try {
          await sleep(delay, signal);
        } catch {
          break;
        }
      }
    }
  }
  if (signal.aborted) {
    const reason = describe(signal.reason);
    return { status: reason.includes('timed out') ? 'FAILED' : 'STOPPED', result: reason };
  }
  return nonRetryable
    ? { status: 'FAILED', result: last, nonRetryable }
    : { status: 'FAILED', result: last };
}
