import { describe, expect, it } from 'vitest';
import { sustainedGrowth } from './memory-trend.js';

// The memory check of the fault tests: it must catch a leak and shrug off the
// steps a healthy process shows (the flake that made it a trend: one sample
// 0.46 MiB over a constant).

const rounds = 30;
const noise = (i: number) => ((i * 7919) % 13) / 4 - 1.5; // ±1.5 MiB, deterministic

describe('sustainedGrowth', () => {
  it('reads a leak of 1 MiB a round as about 15 MiB over each half', () => {
    const leak = Array.from({ length: rounds }, (_, i) => 250 + i + noise(i));
    expect(sustainedGrowth(leak)).toBeGreaterThan(10);
  });

  it('reads a plateau with a one-off 40 MiB step as no growth', () => {
    for (const stepAt of [3, 14, 26]) {
      const settled = Array.from(
        { length: rounds },
        (_, i) => 150 + (i >= stepAt ? 40 : 0) + noise(i),
      );
      expect(sustainedGrowth(settled)).toBeLessThan(4);
    }
  });

  it('refuses too few samples to tell', () => {
    expect(() => sustainedGrowth([1, 2, 3])).toThrow(RangeError);
  });
});
