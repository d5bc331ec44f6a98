import { type JsonValue, routes, type serverMessages, Timing } from '@drover/protocol';
import type { DroverLogger as Logger } from '@drover/transport';
import { type Bus, publishEvent } from '@drover/transport';
import type { z } from 'zod/v4';
import { runTimers } from './delay-queues.js';
import { FINAL_REPORT_DEADLINE_MS, type FinalReporter } from './final-reporter.js';
import { fitFinalResult } from './final-result.js';

type Report = z.input<typeof serverMessages.ReportInstanceStatus>;
type Reply = z.output<typeof serverMessages.ReportInstanceStatusReply>;

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

/** What a TaskTracker knows of its run when it ends. */
export interface RunEnd {
  run: { instanceId: string; epoch: number };
  workerId: string;
  status: Report['status'];
  progress: Report['progress'];
  /** When its processor first started: the run's started_at when no RUNNING report was written. */
  startedAt: number | undefined;
  /** A workflow node's run: what it added to the workflow context. */
  contextUpdate: Report['contextUpdate'];
}

/**
 * A run's final report: SUCCEEDED, FAILED and STOPPED go through the worker's
 * FinalReporter (batched, retried until acknowledged, the run reported
 * RUNNING meanwhile); a hand-back (WAITING_DISPATCH) goes alone, as before.
 * Built field by field: thousands of runs end at once (a CRON slot), and
 * object spreads here cost ~15 µs a run on the worker's main thread.
 */
export async function reportFinal(
  reporter: FinalReporter,
  bus: Bus,
  app: string,
  end: RunEnd,
  outcome: { result: JsonValue; nonRetryable?: boolean },
  log: Logger,
): Promise<void> {
  const fitted = fitFinalResult(end.status, outcome.result);
  if (fitted.warning) log.warn({ status: end.status }, fitted.warning);
  const status = fitted.status as Report['status'];
  if (status === 'WAITING_DISPATCH') {
    const report = statusReport(end.run, end.workerId, status, end.progress);
    report.result = fitted.result;
    return handBackRun(bus, app, report, log);
  }
  if (status !== 'SUCCEEDED' && status !== 'FAILED' && status !== 'STOPPED')
    throw new Error(`a TaskTracker cannot report ${status} as final`);
  const beat = async () => {
    const running = statusReport(end.run, end.workerId, 'RUNNING', end.progress);
    const reply = await reportRunning(bus, app, running, log);
    return !reply?.stop;
  };
  const answer = await reporter.report(
    {
      instanceId: end.run.instanceId,
      epoch: end.run.epoch,
      status,
      progress: end.progress,
      result: fitted.result,
      // A NonRetryableError failure: the server does not retry the instance either.
      nonRetryable: status === 'FAILED' && outcome.nonRetryable ? true : undefined,
      startedAt: end.startedAt,
      reportedAt: Date.now(),
      contextUpdate: end.contextUpdate,
    },
    beat,
  );
  if (!answer) return;
  // Thousands of runs a second succeed quietly (debug); anything else is worth a line.
  const level = status === 'SUCCEEDED' && answer.accepted ? 'debug' : 'info';
  log[level]({ status, accepted: answer.accepted, reason: answer.reason }, 'run finished');
}

/** A drained worker gives its run back: retried until acknowledged, beating RUNNING meanwhile. */
async function handBackRun(bus: Bus, app: string, report: Report, log: Logger): Promise<void> {
  const beating = setInterval(
    () =>
      void reportRunning(bus, app, { ...report, status: 'RUNNING', reportedAt: Date.now() }, log),
    Timing.INSTANCE_REPORT_MS,
  );
  try {
    const reply = await bus.reliableAsk(routes.server.reportInstanceStatus, { app }, report, {
      deadlineMs: FINAL_REPORT_DEADLINE_MS,
      idempotencyKey: `${report.instanceId}-${report.epoch}-final`,
    });
    log.info({ accepted: reply.accepted, reason: reply.reason }, 'run handed back');
  } catch (err) {
    log.error(
      { err: (err as Error).message },
      'hand-back never acknowledged; the server will settle the run',
    );
  } finally {
    clearInterval(beating);
  }
}

/**
 * The part every TaskTracker shares: report RUNNING every few seconds (and at
 * once if `reportAtStart`), stop the run at its timeout, and return the
 * body's outcome. Without the report at start, a run shorter than one report
 * interval writes no RUNNING report: its accept and its final say it all.
 */
export async function superviseRun<T>(options: {
  timeoutMs: number;
  reportAtStart: boolean;
  report: () => Promise<void>;
  stop: (reason: string) => void;
  body: () => Promise<T>;
}): Promise<T> {
  // Shared timers: two Node timers per run cost ~5 µs of its start.
  const reporting = runTimers.every(Timing.INSTANCE_REPORT_MS, () => void options.report());
  const { timeoutMs } = options;
  const timeout =
    timeoutMs > 0
      ? runTimers.after(timeoutMs, () => options.stop(`timed out after ${timeoutMs} ms`))
      : undefined;
  // The work starts at once, not after the first report's round trip; the
  // final report still goes out after it.
  const first = options.reportAtStart ? options.report() : undefined;
  try {
    return await options.body();
  } finally {
    reporting.cancel();
    timeout?.cancel();
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
