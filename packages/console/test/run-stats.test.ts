import { describe, expect, it } from 'vitest';
import { minuteRows } from '../src/overview/run-stats.js';

describe('minuteRows', () => {
  it('fills every minute of the window, adding buckets to their minute', () => {
    const now = Date.UTC(2026, 0, 1, 12, 10, 30);
    const at = (m: number) => Date.UTC(2026, 0, 1, 12, m);
    const rows = minuteRows(
      {
        minutes: 3,
        buckets: [
          { minute: at(8), status: 'SUCCEEDED', count: 2 },
          { minute: at(10), status: 'FAILED', count: 1 },
          { minute: at(10), status: 'SUCCEEDED', count: 4 },
          { minute: at(1), status: 'SUCCEEDED', count: 9 }, // outside the window
        ],
      },
      now,
    );
    expect(rows).toEqual([
      { minute: at(8), counts: { SUCCEEDED: 2 } },
      { minute: at(9), counts: {} },
      { minute: at(10), counts: { FAILED: 1, SUCCEEDED: 4 } },
    ]);
  });
});
