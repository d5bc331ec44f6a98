import type { MapContext, TaskOutcome } from '@drover/worker';
import { describe, expect, it } from 'vitest';
import { SumRangeParams, sumRange } from '../src/examples/processors.js';

// The example map-reduce is exact for every n it accepts: its sum passes
// Number.MAX_SAFE_INTEGER from n = 134,217,728 on.

type Params = { n: number; chunk: number };

/** Runs sum-range's root, chunk tasks and reduce in this thread, as a TaskTracker would. */
async function sum(input: { n: number; chunk?: number }): Promise<string> {
  const params = SumRangeParams.parse(input) as Params;
  const mapped: unknown[] = [];
  const ctx = (payload: unknown, isRootTask: boolean) =>
    ({
      params,
      isRootTask,
      payload,
      log: { info: () => undefined },
      map: async (payloads: unknown[]) => {
        mapped.push(...payloads);
      },
    }) as unknown as MapContext<Params>;
  await sumRange.process(ctx(null, true));
  const results: TaskOutcome[] = [];
  for (const [i, payload] of mapped.entries()) {
    const result = await sumRange.process(ctx(payload, false));
    results.push({
      taskId: `root.1.${i}`,
      taskName: 'chunk',
      status: 'SUCCEEDED',
      result: String(result),
    });
  }
  return String(await sumRange.reduce(ctx(null, false), results));
}

const exact = (n: number) => ((BigInt(n) * BigInt(n + 1)) / 2n).toString();

describe('sum-range example', () => {
  it('sums small ranges', async () => {
    expect(await sum({ n: 1 })).toBe('1');
    expect(await sum({ n: 10_000_000 })).toBe('50000005000000');
  });

  it('is exact past Number.MAX_SAFE_INTEGER', async () => {
    // An odd total above 2^53: no double holds it.
    const n = 150_000_001;
    expect(exact(n)).toBe('11250000225000001');
    expect(await sum({ n, chunk: 1_000_000 })).toBe(exact(n));
  });

  it('refuses chunks whose sum could pass Number.MAX_SAFE_INTEGER', () => {
    expect(SumRangeParams.safeParse({ n: 1e9, chunk: 1e6 + 1 }).success).toBe(false);
    expect(SumRangeParams.safeParse({ n: 1e9 + 1 }).success).toBe(false);
    expect(1e6 * 1e9).toBeLessThan(Number.MAX_SAFE_INTEGER);
  });
});
