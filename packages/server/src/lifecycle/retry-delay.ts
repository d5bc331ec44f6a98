import type { common } from '@drover/protocol';
import type { z } from 'zod';

type RetryPolicy = z.output<typeof common.RetryPolicy>;

/** Wait before try `attempt + 1`: initial × coefficient^(attempt-1), capped. */
export function retryDelayMs(policy: RetryPolicy, attempt: number): number {
  const raw = policy.initialIntervalMs * policy.backoffCoefficient ** Math.max(0, attempt - 1);
  return Math.round(Math.min(raw, policy.maximumIntervalMs));
}

/** Backoff for re-dispatching when no worker took a run: 0.5 s doubling to 30 s, with jitter. */
export function dispatchBackoffMs(failures: number): number {
  const base = Math.min(500 * 2 ** Math.min(failures, 10), 30_000);
  return Math.round(base * (0.5 + Math.random() / 2));
}
