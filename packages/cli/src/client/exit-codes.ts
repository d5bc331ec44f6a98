/**
 * Exit codes scripts can rely on (also in `drover --help`). `drover-worker`
 * uses the same numbers and names for those it shares (packages/worker/src/exit-codes.ts).
 */
export const Exit = {
  OK: 0,
  /** The command worked, but the run it waited for did not succeed. */
  RUN_FAILED: 1,
  /** Bad flags, arguments or input file (what to fix is printed). */
  USAGE: 2,
  /** No such app, job, instance. */
  NOT_FOUND: 3,
  /** The app secret was refused. */
  UNAUTHORIZED: 4,
  /** The server cannot be reached or is not ready. */
  UNAVAILABLE: 5,
  /** The server failed, or answered something unexpected. */
  SERVER_ERROR: 6,
} as const;

/** An error the CLI prints as one message, leaving with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
