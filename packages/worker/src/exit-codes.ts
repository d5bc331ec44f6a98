/**
 * Exit codes of `drover-worker` (also in its --help). Those it shares with
 * the `drover` CLI have the CLI's numbers and names
 * (packages/cli/src/client/exit-codes.ts): a script sees 2 or 4 mean the
 * same from either. Kept apart: neither binary needs the other's others.
 */
export const WorkerExit = {
  /** Stopped on SIGTERM or SIGINT after draining. */
  OK: 0,
  /** A stop that did not finish cleanly, or a start that failed. */
  UNCLEAN: 1,
  /** Bad flags, environment or processors module (what to fix is printed). */
  USAGE: 2,
  /** Refused: no such app, its worker id held by another live process, or NATS credentials. */
  UNAUTHORIZED: 4,
} as const;
