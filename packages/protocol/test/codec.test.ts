import { describe, expect, it } from 'vitest';
import { decode, encode } from '../src/index.js';

describe('msgpack codec', () => {
  it('round-trips nested values', () => {
    const value = { id: '42', list: [1, 2.5, 'x', null, true], nested: { n: -3 } };
    expect(decode(encode(value))).toEqual(value);
  });

  it('round-trips binary as bytes', () => {
    const decoded = decode(encode({ bin: new Uint8Array([1, 2, 255]) })) as { bin: Uint8Array };
    expect(decoded.bin).toBeInstanceOf(Uint8Array);
    expect([...decoded.bin]).toEqual([1, 2, 255]);
  });

  it('writes plain msgpack maps, not the records extension', () => {
    const bytes = encode({ a: 1 });
    // fixmap with one entry, fixstr "a", positive fixint 1
    expect([...bytes]).toEqual([0x81, 0xa1, 0x61, 0x01]);
  });

  it('omits undefined fields', () => {
    expect([...encode({ a: 1, b: undefined })]).toEqual([...encode({ a: 1 })]);
  });

  it('decodes 64-bit integers as numbers', () => {
    // uint64 2^40
    const bytes = new Uint8Array([0xcf, 0, 0, 0x01, 0, 0, 0, 0, 0]);
    expect(decode(bytes)).toBe(2 ** 40);
  });

  it('never sets a prototype from a __proto__ key', () => {
    const bytes = new Uint8Array([
      0x81,
      0xa9,
      ...Buffer.from('__proto__'),
      0x81,
      0xa6,
      ...Buffer.from('isRoot'),
      0xc3,
    ]);
    const value = decode(bytes) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect((value as { isRoot?: unknown }).isRoot).toBeUndefined();
    expect(({} as { isRoot?: unknown }).isRoot).toBeUndefined();
  });

  it('rejects truncated input and trailing bytes', () => {
    const bytes = encode({ a: 'hello', b: [1, 2, 3] });
    expect(() => decode(bytes.subarray(0, 5))).toThrow();
    expect(() => decode(new Uint8Array([...bytes, 0x01]))).toThrow();
  });
});
