import type { JsonValue } from '@drover/protocol';
import type { z } from 'zod';

// Postgres text and jsonb cannot hold NUL (U+0000), and a lone UTF-16
// surrogate is not text at all (text stores it altered, jsonb refuses it).
// Input is checked for both at the HTTP edge, so it gets a 400 naming the
// field instead of a 500 from the database.

// A high surrogate not followed by a low one, or a low one not after a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/**
 * Text a worker sends (a result, a failure, a log line) made storable: NUL and
 * lone surrogates become U+FFFD. Refusing it would lose a finished run's
 * report, and the run would be run again.
 */
export function toStorableText(value: string): string {
  return value.replaceAll('\u0000', '\ufffd').replace(LONE_SURROGATES, '\ufffd');
}

/**
 * A JSON result made storable as jsonb: every string in it (values and object
 * keys) as `toStorableText` makes it.
 */
export function toStorableJson(value: JsonValue): JsonValue {
  if (typeof value === 'string') return toStorableText(value);
  if (Array.isArray(value)) return value.map(toStorableJson);
  if (value === null || typeof value !== 'object') return value;
  const out: { [key: string]: JsonValue } = {};
  for (const [key, item] of Object.entries(value)) out[toStorableText(key)] = toStorableJson(item);
  return out;
}

/** A JSON result as text for a message or a reason: a string raw, anything else as JSON. */
export function resultText(value: JsonValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Why Postgres cannot store this string, or undefined when it can. */
export function unstorableText(value: string): string | undefined {
  if (value.includes('\u0000')) return 'must not contain NUL characters (\\u0000)';
  if (LONE_SURROGATE.test(value)) return 'must not contain lone UTF-16 surrogates';
  return undefined;
}

/**
 * A zod refinement: walks a value (object keys, string values, arrays, nested
 * JSON params) and adds an issue at the path of every string Postgres cannot
 * store.
 */
export function refineStorableText(value: unknown, ctx: z.RefinementCtx): void {
  walk(value, [], ctx);
}

function walk(value: unknown, path: (string | number)[], ctx: z.RefinementCtx): void {
  if (typeof value === 'string') {
    const problem = unstorableText(value);
    if (problem) ctx.addIssue({ code: 'custom', path, message: problem });
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) walk(value[i], [...path, i], ctx);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const problem = unstorableText(key);
      if (problem)
        ctx.addIssue({ code: 'custom', path: [...path, key], message: `key ${problem}` });
      walk(item, [...path, key], ctx);
    }
  }
}
