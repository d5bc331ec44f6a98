import { basicProcessor, mapReduceProcessor } from '@drover/worker';
import { z } from 'zod';

// Example processors `drover up` runs on its workers (and the demo uses).
// A worker of your own loads a module like this one with
// `drover-worker --processors <module>`.

/**
 * Sums 1..n exactly: the root task maps chunks, each chunk task sums its
 * range, reduce adds them up. A chunk's sum stays a safe integer (at most
 * 1e6 numbers of at most 1e9); the total, up to 5e17, is added as a BigInt.
 */
export const sumRange = mapReduceProcessor({
  name: 'sum-range',
  params: z.object({
    n: z.number().int().positive().max(1e9),
    chunk: z.number().int().positive().max(1e6).default(10_000),
  }),
  process: async (ctx) => {
    const { n, chunk } = ctx.params;
    if (ctx.isRootTask) {
      const chunks = Array.from({ length: Math.ceil(n / chunk) }, (_, i) => ({
        from: i * chunk + 1,
        to: Math.min(n, (i + 1) * chunk),
      }));
      ctx.log.info(`splitting 1..${n} into ${chunks.length} chunks`);
      await ctx.map(chunks, 'chunk');
      return `${chunks.length} chunks`;
    }
    const { from, to } = ctx.payload as { from: number; to: number };
    let sum = 0;
    for (let i = from; i <= to; i++) sum += i;
    return String(sum);
  },
  // Runs only when every chunk succeeded (no `reducePartial`).
  reduce: (_ctx, results) =>
    String(
      results
        .filter((r) => r.taskName === 'chunk')
        .reduce((sum, r) => sum + BigInt(String(r.result)), 0n),
    ),
});

/** A standalone processor: one run, one call. */
export const hello = basicProcessor({
  name: 'hello',
  params: z.object({ name: z.string().default('world') }),
  process: (ctx) => `hello, ${ctx.params.name}`,
});
