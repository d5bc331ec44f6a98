/**
 * What a processor threw, as the text of its failure: an Error's message, a
 * thrown plain object as JSON (not "[object Object]"), anything else as text.
 */
export function thrownText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null) {
    try {
      return JSON.stringify(err).slice(0, 4_096);
    } catch {
      // a cycle or a BigInt: its tag, below
    }
  }
  return String(err);
}
