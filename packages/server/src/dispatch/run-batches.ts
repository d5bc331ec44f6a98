import { encode } from '@drover/protocol';

/** Runs per `run_jobs` message. */
export const MAX_RUNS_PER_MESSAGE = 500;
// Room for the message's envelope, the protocol line and headers.
const ENVELOPE_BYTES = 4 * 1024;

export interface Batches<T> {
  /** Chunks of at most MAX_RUNS_PER_MESSAGE items, each well under max_payload. */
  chunks: T[][];
  /** Items too large to send even alone, with their encoded size. */
  tooLarge: { item: T; bytes: number }[];
}

/**
 * Splits the runs for one worker into `run_jobs` messages: at most 500 runs
 * and half of NATS max_payload each (a chunk near the limit would fail whole),
 * so one large run never makes a batch of small ones undeliverable.
 */
export function runBatches<T>(
  items: T[],
  message: (item: T) => unknown,
  maxPayload: number,
): Batches<T> {
  const budget = Math.floor(maxPayload / 2);
  const single = maxPayload - ENVELOPE_BYTES;
  const chunks: T[][] = [];
  const tooLarge: { item: T; bytes: number }[] = [];
  let chunk: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = encode(message(item)).byteLength;
    if (size > single) {
      tooLarge.push({ item, bytes: size });
      continue;
    }
    if (chunk.length > 0 && (chunk.length >= MAX_RUNS_PER_MESSAGE || bytes + size > budget)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length) chunks.push(chunk);
  return { chunks, tooLarge };
}
