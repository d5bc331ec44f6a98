import { encode } from '@drover/protocol';

/** Bytes a value takes in msgpack, without encoding the common small ones. */
export function valueBytes(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'number') return 9;
  if (typeof value === 'string') return 5 + Buffer.byteLength(value);
  return encode(value).byteLength;
}
