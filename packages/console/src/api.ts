/** The message a person should read of a failed call. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
