import { routes, type serverMessages, Timing } from '@drover/protocol';
import { type Bus, publishEvent } from '@drover/transport';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { fitFinalResult } from './final-result.js';
import { setLongTimeout } from './long-timeout.js';

type Report = z.input<typeof serverMessages.ReportInstanceStatus>;
type Reply = z.output<typeof serverMessages.ReportInstanceStatusReply>;

// A final report is retried until the server acknowledges it, within this bound.
const FINAL_REPORT_DEADLINE_MS = 10 * 60_000;

/** A progress report: retried (server restarting, its Postgres away) until the next beat replaces it. */
export async function reportRunning(
  bus: Bus,
  app: string,
  report: Report,
  log: Logger,
): Promise<Reply | undefined> {
  // Monitors follow progress from events, without the database.
  publishEvent(
    bus.nc,
    {
      type: 'progress',
      app,
      instanceId: report.instanceId,
      workerId: report.workerId,
      epoch: report.epoch,
      progress: report.progress,
      at: report.reportedAt,
    },
    log,
  );
  try {
    return await bus.reliableAsk(routes.server.reportInstanceStatus, { app }, report, {
      deadlineMs: Timing.INSTANCE_REPORT_MS,
    });
  } catch (err) {
    // A long silence ends the run on the server's side.
    log.debug({ err: (err as Error).message }, 'progress report not delivered');
    return undefined;
  }
}

/**
 * The final report, retried with the same key until the server acknowledges
 * it. Until then the run is still reported RUNNING every few seconds: a final
 * report that Postgres cannot take yet (connections reset, a write held) must
 * not let the run look silent, or the sweeper fails a run that succeeded.
 */
export async function reportFinal(
  bus: Bus,
  app: string,
  report: Report,
  outcome: { result: string; nonRetryable?: boolean },
  log: Logger,
): Promise<void> {
  const beat = () =>
    reportRunning(bus, app, { ...report, status: 'RUNNING', reportedAt: Date.now() }, log);
  const beating = setInterval(() => void beat(), Timing.INSTANCE_REPORT_MS);
  const fitted = fitFinalResult(report.status, outcome.result);
  if (fitted.warning) log.warn({ status: report.status }, fitted.warning);
  const status = fitted.status as Report['status'];
  // A NonRetryableError failure: the server does not retry the instance either.
  const nonRetryable = status === 'FAILED' && outcome.nonRetryable ? true : undefined;
  try {
    const reply = await bus.reliableAsk(
      routes.server.reportInstanceStatus,
      { app },
      { ...report, status, result: fitted.result, nonRetryable },
      {
        deadlineMs: FINAL_REPORT_DEADLINE_MS,
        idempotencyKey: `${report.instanceId}-${report.epoch}-final`,
      },
    );
    log.info({ status, accepted: reply.accepted, reason: reply.reason }, 'run finished');
  } catch (err) {
    log.error(
      { err: (err as Error).message },
      'final report never acknowledged; the server will settle the run',
    );
  } finally {
    clearInterval(beating);
  }
}

/**
 * The part every TaskTracker shares: report RUNNING now and every few
 * seconds, stop the run at its timeout, and return the body's outcome.
 */
export async function superviseRun<T>(options: {
  timeoutMs: number;
  report: () => Promise<void>;
  stop: (reason: string) => void;
  body: () => Promise<T>;
}): Promise<T> {
  const reporting = setInterval(() => void options.report(), Timing.INSTANCE_REPORT_MS);
  const { timeoutMs } = options;
  const timeout =
    timeoutMs > 0
      ? setLongTimeout(() => options.stop(`timed out after ${timeoutMs} ms`), timeoutMs)
      : undefined;
  // The work starts at once, not after the first report's round trip; the
  // final report still goes out after it.
  const first = options.report();
  try {
    return await options.body();
  } finally {
    clearInterval(reporting);
    timeout?.clear();
    await first;
  }
}

/** A TaskTracker's status report for its run, stamped with the dispatch epoch. */
export function statusReport(
  run: { instanceId: string; epoch: number },
  workerId: string,
  status: Report['status'],
  progress: Report['progress'],
): Report {
  return {
    instanceId: run.instanceId,
    epoch: run.epoch,
    workerId,
    status,
    progress,
    reportedAt: Date.now(),
  };
}
