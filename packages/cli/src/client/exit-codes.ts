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

/** One thing wrong with the input: a flag (`--params`) or a field (`body.name`). */
export interface CliIssue {
  path: string;
  message: string;
}

/** The error code of the `{error:{code,message,issues}}` envelope for each exit code. */
const EXIT_ERROR_CODE: Record<number, string> = {
  [Exit.RUN_FAILED]: 'RUN_FAILED',
  [Exit.USAGE]: 'INVALID_INPUT',
  [Exit.NOT_FOUND]: 'NOT_FOUND',
  [Exit.UNAUTHORIZED]: 'UNAUTHORIZED',
  [Exit.UNAVAILABLE]: 'UNAVAILABLE',
  [Exit.SERVER_ERROR]: 'SERVER_ERROR',
};

/** The envelope's code for an exit code (the server's codes where they mean the same). */
export function errorCodeOf(exitCode: number): string {
  return EXIT_ERROR_CODE[exitCode] ?? 'SERVER_ERROR';
}

/**
 * An error the CLI prints as one message, leaving with its exit code. `code`
 * and `issues` (the server's, when it sent them) go into the `--json` envelope.
 */
export class CliError extends Error {
  readonly code: string;
  readonly issues: CliIssue[];
  constructor(
    message: string,
    readonly exitCode: number,
    detail: { code?: string; issues?: CliIssue[] } = {},
  ) {
    super(message);
    this.code = detail.code ?? errorCodeOf(exitCode);
    this.issues = detail.issues ?? [];
  }
}
