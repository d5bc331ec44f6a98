import { describe, expect, it } from 'vitest';
import { withAttempts } from '../src/tracker/attempts.js';
import { RunControl } from '../src/tracker/run-control.js';

// A processor told to stop (a timeout, a stop, a worker's drain) may still
// return a value; the run ends as the abort says, never SUCCEEDED, so a
// drained run is handed back and runs again elsewhere.

const once = {
  maximumAttempts: 1,
  initialIntervalMs: 10,
  backoffCoefficient: 2,
  maximumIntervalMs: 100,
};

describe('a processor that returns a value after its abort', () => {
  it('is handed back when its worker drains', async () => {
    const control = new RunControl();
    const outcome = await withAttempts(once, control.source, async () => {
      control.handBack('worker draining');
      return 'partial';
    });
    expect(outcome).toEqual({ status: 'STOPPED', result: 'worker draining' });
    expect(control.reportedStatus(outcome.status)).toBe('WAITING_DISPATCH');
  });

  it('fails when it timed out', async () => {
    const control = new RunControl();
    const outcome = await withAttempts(once, control.source, async () => {
      control.stop('timed out after 300 ms');
      return 'partial';
    });
    expect(outcome).toEqual({ status: 'FAILED', result: 'timed out after 300 ms' });
  });
});
