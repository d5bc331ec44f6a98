import { z } from 'zod';

// A processor's result is any JSON value. It travels as that value (msgpack),
// is stored as jsonb and answered as JSON. Its size is bounded as a string
// result always was: a string by its own length (so every string accepted
// before still is), anything else by the length of its JSON text.

/** A JSON value: what a result may be. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Longest task or run result, in UTF-16 characters (a string's length, or its JSON text's). */
export const MAX_RESULT_CHARS = 65_536;

/** A result's size as the limit counts it: a string's length, or the length of its JSON text. */
export function resultChars(value: JsonValue): number {
  return typeof value === 'string' ? value.length : JSON.stringify(value).length;
}

/** Any JSON value within MAX_RESULT_CHARS; a plain string is one. */
export const JsonResult = (z.json() as z.ZodType<JsonValue>).refine(
  (v) => resultChars(v) <= MAX_RESULT_CHARS,
  { message: `result over ${MAX_RESULT_CHARS} characters (a string's length, or its JSON text's)` },
);
