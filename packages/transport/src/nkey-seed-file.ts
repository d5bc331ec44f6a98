import { readFile, stat } from 'node:fs/promises';
import { nkeys } from '@nats-io/nats-core';
import type { DroverLogger as Logger } from './logger.js';

/** The seed file holds something that is not a NATS user seed (`SU…`). */
export class NkeySeedFileError extends Error {
  override name = 'NkeySeedFileError';
  constructor(
    readonly path: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`NATS nkey seed file ${path}: ${reason}`, options);
  }
}

/**
 * Reads a NATS user nkey seed (the `SU…` text `nk -gen user` or the
 * Drover API prints) from a file. Surrounding whitespace is ignored. A file
 * readable by group or others only gets a warning: refusing would break
 * mounted secrets whose mode the operator does not control.
 */
export async function readNkeySeedFile(path: string, log?: Logger): Promise<Uint8Array> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new NkeySeedFileError(path, `cannot read it (${(err as Error).message})`, { cause: err });
  }
  const seed = parseUserSeed(text, path);
  if (log) await warnIfSeedFileShared(path, log);
  return seed;
}

/** Warns when group or others may read a seed file (for callers that read it before they had a logger). */
export async function warnIfSeedFileShared(path: string, log: Logger): Promise<void> {
  const { mode } = await stat(path);
  if ((mode & 0o077) === 0) return;
  log.warn(
    { path, mode: (mode & 0o777).toString(8) },
    `NATS nkey seed file ${path} is readable by group or others; chmod 600 it`,
  );
}

/** Validates seed text as a NATS user seed; `source` names where it came from in errors. */
export function parseUserSeed(text: string, source: string): Uint8Array {
  const trimmed = text.trim();
  if (trimmed === '')
    throw new NkeySeedFileError(source, 'it is empty; expected a user seed (SU…)');
  if (!trimmed.startsWith('SU')) {
    throw new NkeySeedFileError(
      source,
      'it does not hold a NATS user seed (text starting with SU)',
    );
  }
  const seed = new TextEncoder().encode(trimmed);
  try {
    nkeys.fromSeed(seed);
  } catch (err) {
    throw new NkeySeedFileError(source, 'its user seed is malformed (bad length or checksum)', {
      cause: err,
    });
  }
  return seed;
}

/** The public key (`U…`) of a user seed. */
export function publicKeyOfSeed(seed: Uint8Array): string {
  return nkeys.fromSeed(seed).getPublicKey();
}
