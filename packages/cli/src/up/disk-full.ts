// One wording for a full disk under the data dir, whether a child (initdb,
// postgres) says it in its output or a write of our own fails with ENOSPC.

const SAYS_FULL = /No space left on device|ENOSPC/;

/**
 * "disk full under <dir>: …" when `cause` (a child's output, or an error)
 * says the disk is full; undefined otherwise.
 */
export function diskFull(dir: string, cause: unknown): Error | undefined {
  const text =
    typeof cause === 'string'
      ? cause.split('\n').find((l) => SAYS_FULL.test(l))
      : (cause as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC'
        ? (cause as Error).message
        : undefined;
  return text === undefined
    ? undefined
    : new Error(
        `disk full under ${dir}: free some space or use another --data-dir (${text.trim()})`,
      );
}
