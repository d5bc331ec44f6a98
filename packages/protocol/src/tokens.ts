import { z } from 'zod/v4';

// A subject token must never contain '.', '*', '>' or whitespace: those would
// let one app's name address another app's subjects.
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

export const AppName = z
  .string()
  .regex(TOKEN, 'must be 1-64 characters of letters, digits, "_" or "-"');
export const WorkerId = z
  .string()
  .regex(TOKEN, 'must be 1-64 characters of letters, digits, "_" or "-"');

/** Database ids travel as decimal strings so 64-bit ids survive every language. */
export const DecimalId = z.string().regex(/^[0-9]{1,20}$/, 'must be a decimal id string');

/** Epoch milliseconds. */
export const EpochMs = z.number().int().nonnegative();

/** A non-negative integer count. */
export const Count = z.number().int().nonnegative();

/** Caller-chosen ids (batch ids, task ids): printable, bounded. */
export const OpaqueId = z.string().min(1).max(128);

export function isSubjectToken(value: string): boolean {
  return TOKEN.test(value);
}
