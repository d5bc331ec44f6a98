import type { JsonValue } from '@drover/protocol';
import { NonRetryableError } from './processor.js';

// A result travels as the value returned (msgpack), is stored as jsonb and
// answered as JSON: it must be JSON exactly, not what JSON.stringify would
// quietly make of it (NaN to null, undefined keys dropped, a Date to text).
// Anything else fails the task for good (the same code returns it again),
// naming where the problem is.

/** Thrown for a result that is not JSON; its message names the path and the problem. */
export class NonJsonResultError extends NonRetryableError {}

/** A processor's return value as its JSON result: nothing returned is null. */
export function toJsonResult(value: unknown): JsonValue {
  if (value === undefined) return null;
  const problem = nonJson(value, 'result', new Set());
  if (problem) throw new NonJsonResultError(`result is not JSON: ${problem}`);
  return value as JsonValue;
}

function nonJson(value: unknown, path: string, open: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value}`;
    case 'bigint':
      return `${path} is a BigInt (${value}n); return it as a string`;
    case 'undefined':
      return `${path} is undefined; use null or leave the key out`;
    case 'function':
    case 'symbol':
      return `${path} is a ${typeof value}`;
  }
  if (value === null) return undefined;
  const obj = value as object;
  if (open.has(obj)) return `${path} refers back to itself (a cycle)`;
  open.add(obj);
  try {
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) {
        if (!(i in obj)) return `${path}[${i}] is a hole in a sparse array`;
        const problem = nonJson(obj[i], `${path}[${i}]`, open);
        if (problem) return problem;
      }
      return undefined;
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null)
      return `${path} is a ${obj.constructor?.name ?? 'class instance'}, not a plain object`;
    for (const [key, item] of Object.entries(obj)) {
      const problem = nonJson(item, `${path}.${key}`, open);
      if (problem) return problem;
    }
    return undefined;
  } finally {
    open.delete(obj);
  }
}
