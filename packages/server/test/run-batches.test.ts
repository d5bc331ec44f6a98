import { encode } from '@drover/protocol';
import { describe, expect, it } from 'vitest';
import { MAX_RUNS_PER_MESSAGE, runBatches } from '../src/dispatch/run-batches.js';

// The runs for one worker are cut into run_jobs messages of at most 500 runs
// and half of max_payload; a run too large even alone is set apart (it fails
// at once as undeliverable) without holding back the others.

const run = (id: number, paramsBytes = 10) => ({
  instanceId: String(id),
  params: 'x'.repeat(paramsBytes),
});

describe('run_jobs batches', () => {
  it('cuts at 500 runs, keeping their order', () => {
    const runs = Array.from({ length: 1_201 }, (_, i) => run(i));
    const { chunks, tooLarge } = runBatches(runs, (r) => r, 1024 * 1024);
    expect(chunks.map((c) => c.length)).toEqual([MAX_RUNS_PER_MESSAGE, MAX_RUNS_PER_MESSAGE, 201]);
    expect(chunks.flat()).toEqual(runs);
    expect(tooLarge).toEqual([]);
  });

  it('keeps each message under half of max_payload, and sets apart a run too large alone', () => {
    const maxPayload = 64 * 1024;
    const runs = [run(1, 20_000), run(2, 20_000), run(3, 70_000), run(4, 20_000), run(5, 40_000)];
    const { chunks, tooLarge } = runBatches(runs, (r) => r, maxPayload);
    for (const chunk of chunks)
      if (chunk.length > 1)
        expect(chunk.reduce((n, r) => n + encode(r).byteLength, 0)).toBeLessThanOrEqual(
          maxPayload / 2,
        );
    expect(chunks.map((c) => c.map((r) => r.instanceId))).toEqual([['1'], ['2'], ['4'], ['5']]);
    expect(tooLarge.map((t) => t.item.instanceId)).toEqual(['3']);
    expect(tooLarge[0]?.bytes).toBeGreaterThan(maxPayload);
  });
});
