import { describe, expect, it } from 'vitest';
import { resultText } from '../src/output/result-text.js';

// The CLI prints a string result raw, as it always did, and any other JSON
// result as JSON (so `42` and `"42"` read differently only where they differ).

describe('a result as the CLI prints it', () => {
  it('prints a string raw, other JSON as JSON, and none as none', () => {
    expect(resultText('hello "you"')).toBe('hello "you"');
    expect(resultText({ a: [1, null] })).toBe('{"a":[1,null]}');
    expect(resultText(42)).toBe('42');
    expect(resultText(false)).toBe('false');
    expect(resultText(null)).toBeNull();
  });
});
