import { encode } from '@drover/protocol';

/** Splits payloads into batches whose encoded size stays under `maxBytes`. */
export function* mapBatches(
  payloads: unknown[],
  maxBytes: number,
): Generator<{ offset: number; payloads: unknown[] }> {
  let start = 0;
  let size = 0;
  for (let i = 0; i < payloads.length; i++) {
    // Task id and framing take some bytes per task besides the payload.
    const bytes = encode(payloads[i]).byteLength + 64;
    if (bytes > maxBytes)
      throw new RangeError(`map payload ${i} is ${bytes} bytes, over the ${maxBytes}-byte limit`);
    if (size + bytes > maxBytes && i > start) {
      yield { offset: start, payloads: payloads.slice(start, i) };
      start = i;
      size = 0;
    }
    size += bytes;
  }
  if (start < payloads.length) yield { offset: start, payloads: payloads.slice(start) };
}
