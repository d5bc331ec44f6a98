/**
 * A run's result for a line of text: a string raw (as results always were),
 * any other JSON value as JSON, none (null) as null.
 */
export function resultText(result: unknown): string | null {
  if (result === null || result === undefined) return null;
  return typeof result === 'string' ? result : JSON.stringify(result);
}
