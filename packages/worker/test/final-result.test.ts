import { common } from '@drover/protocol';
import { describe, expect, it } from 'vitest';
import { fitFinalResult } from '../src/tracker/final-result.js';

// A run's result is never cut silently: a success over the limit fails the
// run, a failure's text is cut with a marker that says so.

const MAX = common.MAX_RESULT_CHARS;

describe('fitFinalResult', () => {
  it('keeps a result up to the limit whole', () => {
    expect(fitFinalResult('SUCCEEDED', 'r'.repeat(MAX))).toEqual({
      status: 'SUCCEEDED',
      result: 'r'.repeat(MAX),
    });
  });

  it('fails a successful run whose result is over the limit, naming its size', () => {
    const fitted = fitFinalResult('SUCCEEDED', 'r'.repeat(MAX + 1));
    expect(fitted.status).toBe('FAILED');
    expect(fitted.result).toMatch(
      /^run result too large: 65537 characters, over the 65536-character limit/,
    );
    expect(fitted.warning).toBeDefined();
  });

  it('cuts a long failure text to the limit with a marker, and warns', () => {
    const fitted = fitFinalResult('FAILED', `boom: ${'e'.repeat(100_000)}`);
    expect(fitted.status).toBe('FAILED');
    expect(fitted.result).toHaveLength(MAX);
    expect(String(fitted.result).startsWith('boom: eee')).toBe(true);
    expect(fitted.result).toMatch(/…\[cut: 100006 characters, over the 65536-character limit\]$/);
    expect(fitted.warning).toBe('run result cut from 100006 to 65536 characters');
  });
});
