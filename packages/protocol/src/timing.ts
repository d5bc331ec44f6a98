// Timing bounds every process agrees on. They are guarantees documented in
// docs/guarantees.md; change them there too.
export const Timing = {
  /** A worker publishes a heartbeat this often. */
  WORKER_HEARTBEAT_MS: 1_000,
  /** A worker with no heartbeat for this long is dead to dispatch. */
  WORKER_DEAD_MS: 10_000,
  /** A TaskTracker reports a RUNNING instance's progress this often. */
  INSTANCE_REPORT_MS: 5_000,
  /** A RUNNING instance with no report for this long is settled by the sweeper. */
  INSTANCE_SILENT_MS: 15_000,
} as const;
