import { FINAL_INSTANCE_STATUSES, type InstanceStatus, type JsonValue } from '@drover/protocol';

// An instance as the API and the server's logic see it: ids as strings,
// times as epoch milliseconds.

export interface Instance {
  id: string;
  appId: string;
  jobId: string;
  status: InstanceStatus;
  triggerType: string;
  expectedTriggerAt: number | null;
  params: unknown;
  epoch: number;
  runAttempt: number;
  workerId: string | null;
  nextDispatchAt: number;
  dispatchedAt: number | null;
  startedAt: number | null;
  lastReportAt: number | null;
  deadlineAt: number | null;
  finishedAt: number | null;
  progress: { total: number; succeeded: number; failed: number; running: number } | null;
  /** Any JSON value (jsonb); null when the run has none. */
  result: JsonValue | null;
  reason: string | null;
  retryOf: string | null;
  createdAt: number;
  /** When it was due to run (its trigger time, or created + delay): where pickup latency starts. */
  dueAt: number;
}

export interface RawInstance {
  id: string;
  app_id: string;
  job_id: string;
  status: InstanceStatus;
  trigger_type: string;
  expected_trigger_at: Date | null;
  params: unknown;
  epoch: number;
  run_attempt: number;
  worker_id: string | null;
  next_dispatch_at: Date;
  dispatched_at: Date | null;
  started_at: Date | null;
  last_report_at: Date | null;
  deadline_at: Date | null;
  finished_at: Date | null;
  progress: Instance['progress'];
  result: JsonValue | null;
  reason: string | null;
  retry_of: string | null;
  created_at: Date;
  due_at: Date;
}

export const INSTANCE_COLUMNS =
  'id, app_id, job_id, status, trigger_type, expected_trigger_at, params, epoch, run_attempt, worker_id, ' +
  'next_dispatch_at, dispatched_at, started_at, last_report_at, deadline_at, finished_at, progress, result, ' +
  'reason, retry_of, created_at, due_at';

/** INSTANCE_COLUMNS qualified with a table alias, for joins. */
export function prefixed(alias: string): string {
  return INSTANCE_COLUMNS.split(', ')
    .map((c) => `${alias}.${c}`)
    .join(', ');
}

const ms = (d: Date | null) => (d ? d.getTime() : null);

const FINAL: ReadonlySet<string> = new Set(FINAL_INSTANCE_STATUSES);

/**
 * A final run has no task running, whatever its last progress report said:
 * a run stopped or failed by the server keeps the worker's last report
 * (its final report, if it comes, is fenced off).
 */
function progressOf(r: RawInstance): Instance['progress'] {
  const p = r.progress;
  if (!p?.running || !FINAL.has(r.status)) return p;
  return { total: p.total, succeeded: p.succeeded, failed: p.failed, running: 0 };
}

export function toInstance(r: RawInstance): Instance {
  return {
    id: r.id,
    appId: r.app_id,
    jobId: r.job_id,
    status: r.status,
    triggerType: r.trigger_type,
    expectedTriggerAt: ms(r.expected_trigger_at),
    params: r.params,
    epoch: r.epoch,
    runAttempt: r.run_attempt,
    workerId: r.worker_id,
    nextDispatchAt: r.next_dispatch_at.getTime(),
    dispatchedAt: ms(r.dispatched_at),
    startedAt: ms(r.started_at),
    lastReportAt: ms(r.last_report_at),
    deadlineAt: ms(r.deadline_at),
    finishedAt: ms(r.finished_at),
    progress: progressOf(r),
    result: r.result,
    reason: r.reason,
    retryOf: r.retry_of,
    createdAt: r.created_at.getTime(),
    dueAt: r.due_at.getTime(),
  };
}

/** SQL list of final statuses, for `status NOT IN (...)` fences. */
export const FINAL_SQL = `('SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED')`;
