import { basicProcessor, mapReduceProcessor } from '@drover/worker';
import { z } from 'zod';

// Example processors `drover up` runs on its workers (and the demo uses).
// A worker of your own loads a module like this one with
// `drover-worker --processors <module>`.

/** Sums 1..n: the root task maps chunks, each chunk task sums its range, reduce adds them up. */
export const sumRange = mapReduceProcessor({
  name: 'sum-range',
  params: z.object({
    n: z.number().int().positive().max(1e9),
    chunk: z.number().int().positive().default(10_000),
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
  reduce: (_ctx, results) => {
    const chunks = results.filter((r) => r.taskName === 'chunk');
    const failed = chunks.filter((r) => r.status !== 'SUCCEEDED');
    if (failed.length) throw new Error(`${failed.length} chunks failed`);
    return String(chunks.reduce((sum, r) => sum + Number(r.result), 0));
  },
});

/** A standalone processor: one run, one call. */
export const hello = basicProcessor({
  name: 'hello',
  params: z.object({ name: z.string().default('world') }),
  process: (ctx) => `hello, ${ctx.params.name}`,
});
