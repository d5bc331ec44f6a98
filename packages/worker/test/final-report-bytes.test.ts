import { encode } from '@drover/protocol';
import { expect, it } from 'vitest';
import { type FinalReport, reportBytes } from '../src/tracker/final-reporter.js';

// Batches of final reports are sized without encoding each report: the
// estimate must never be under a report's real size (a batch could then
// pass NATS's max_payload), and not far over it for the common results.

const base: FinalReport = {
  instanceId: '18446744073709551615',
  epoch: 3,
  status: 'SUCCEEDED',
  progress: { total: 1, succeeded: 1, failed: 0, running: 0 },
  startedAt: 1_796_246_635_821,
  reportedAt: 1_796_246_635_822,
};

const results: FinalReport['result'][] = [
  undefined,
  null,
  true,
  0,
  -1.5,
  2 ** 60,
  '',
  'ok',
  '1796246635821.1234',
  'é'.repeat(1_000), // two UTF-8 bytes a character
  '😀'.repeat(300), // four bytes, two UTF-16 units
  'x'.repeat(70_000), // over msgpack's 16-bit string length
  { a: 1, nested: { list: [1, 'two', null] } },
  [1, 2, 3],
];

it('is never under a final report’s encoded size, and close to it for small results', () => {
  for (const result of results)
    for (const extra of [
      {},
      { nonRetryable: true, status: 'FAILED' as const },
      { contextUpdate: { key: 'value', n: [1, 2] } },
    ]) {
      const report: FinalReport = { ...base, ...extra, result };
      const real = encode(report).byteLength;
      expect(reportBytes(report), JSON.stringify({ result, extra })).toBeGreaterThanOrEqual(real);
      expect(reportBytes(report) - real).toBeLessThan(200);
    }
});
