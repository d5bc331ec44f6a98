import { describe, expect, it } from 'vitest';
import { common, ttMessages } from '../src/index.js';

// A result on the wire is any JSON value, bounded as a string result always
// was: a string by its length (every string accepted before still is), any
// other value by the length of its JSON text.

const { MAX_RESULT_CHARS } = common;
const report = (result: unknown) =>
  ttMessages.ReportTaskStatus.safeParse({
    instanceId: '1',
    workerId: 'w',
    results: [{ taskId: 'root', attempt: 1, status: 'SUCCEEDED', result }],
  });

describe('a result on the wire', () => {
  it.each([
    ['a string', 'text'],
    ['an object', { a: [1, 'b', null, { c: true }] }],
    ['a number', -1.5],
    ['null', null],
    ['a string of the longest length', 'r'.repeat(MAX_RESULT_CHARS)],
  ])('takes %s', (_what, value) => {
    const parsed = report(value);
    expect(parsed.success).toBe(true);
    expect(parsed.data?.results[0]?.result).toStrictEqual(value);
  });

  it('refuses a value whose JSON text is over the limit, and values that are not JSON', () => {
    // Its JSON text is 2 characters longer than the string inside it.
    expect(report(['r'.repeat(MAX_RESULT_CHARS - 3)]).success).toBe(false);
    expect(report(['r'.repeat(MAX_RESULT_CHARS - 4)]).success).toBe(true);
    expect(report(Number.NaN).success).toBe(false);
    expect(report({ when: new Date(0) }).success).toBe(false);
  });
});
