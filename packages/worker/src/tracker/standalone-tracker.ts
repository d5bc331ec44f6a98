import { monotonicMs, type ttMessages } from '@drover/protocol';
import type { Bus, DroverLogger as Logger } from '@drover/transport';
import type { z } from 'zod/v4';
import type { ProcessorExecutor } from '../isolation/executor.js';
import { RunLogShipper } from '../sdk/online-logger.js';
import type { BasicProcessor, Processor } from '../sdk/processor.js';
import { ContextUpdate } from '../sdk/workflow-context.js';
import { type Outcome, sleep, withAttempts } from './attempts.js';
import type { FinalReporter } from './final-reporter.js';
import { reportFinal, reportRunning, statusReport, superviseRun } from './instance-reports.js';
import { RunControl } from './run-control.js';
import { parseRunParams } from './run-params.js';

type RunJob = z.output<typeof ttMessages.RunJob>;

/**
 * When the processor starts: `now`, or `held` until `begin()` (a run built
 * ahead of its time, or one whose accept is not written yet).
 */
export type TrackerStart = 'now' | 'held';

/**
 * The light TaskTracker: owns one STANDALONE run (or a FIXED_RATE /
 * FIXED_DELAY job's long-lived run) on this worker, reports its progress every
 * few seconds and its final result, with the dispatch epoch, until the server
 * acknowledges it.
 */
export class StandaloneTracker {
  private readonly control = new RunControl();
  /** What a workflow node's processor sets (ctx.workflow.set), for its final report. */
  private readonly contextUpdate: ContextUpdate | undefined;
  private readonly logs: RunLogShipper;
  private progress = { total: 0, succeeded: 0, failed: 0, running: 0 };
  /** When its processor first started: the run's started_at when no RUNNING report was written. */
  private startedAt: number | undefined;
  /** Settles when its processor is done (the final report may still be on its way). */
  readonly processed: Promise<void>;
  readonly done: Promise<void>;
  private beginHeld: (() => void) | undefined;
  /** When its processor may start (monotonic ms): a held run begun ahead of its time. */
  private startAt: number | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly app: string,
    private readonly workerId: string,
    readonly run: RunJob,
    private readonly processor: Processor | undefined,
    private readonly log: Logger,
    private readonly executor: ProcessorExecutor,
    private readonly finals: FinalReporter,
    start: TrackerStart,
  ) {
    this.logs = new RunLogShipper(bus, app, workerId, run.instanceId, run.logLevel, log);
    this.contextUpdate = run.workflow ? new ContextUpdate(run.workflow) : undefined;
    const outcome =
      start === 'now'
        ? this.supervise()
        : new Promise<Outcome>((resolve) => {
            this.beginHeld = () => resolve(this.supervise());
          });
    this.processed = outcome.then(
      () => undefined,
      () => undefined,
    );
    this.done = this.finish(outcome).catch((err: unknown) =>
      this.log.error({ err }, 'tracker failed'),
    );
  }

  get epoch(): number {
    return this.run.epoch;
  }

  /** Starts a `held` tracker: its processor now, or at `at` (monotonic ms) if that is later. */
  begin(at?: number): void {
    this.startAt = at;
    const begin = this.beginHeld;
    this.beginHeld = undefined;
    begin?.();
  }

  /** Task counts now (firings, for a frequent run), for `query_instance_status`. */
  get taskProgress() {
    return this.progress;
  }

  /** Aborts the run; its processors see `ctx.signal` abort. */
  stop(reason: string): void {
    this.control.stop(reason);
  }

  /** Worker shutdown: ends the run here and gives it back to the server for another worker. */
  handBack(reason: string): void {
    this.control.handBack(reason);
  }

  /** Back on NATS after a cut: report now, so a run given to another worker meanwhile stops here. */
  reportNow(): void {
    void this.report();
  }

  private supervise(): Promise<Outcome> {
    // A frequent run has no timeout: it lives until its job is disabled.
    return superviseRun({
      timeoutMs: this.run.frequency ? 0 : this.run.timeoutMs,
      // A short run writes no RUNNING report: the first one goes after INSTANCE_REPORT_MS.
      reportAtStart: false,
      report: () => this.report(),
      stop: (reason) => this.stop(reason),
      body: () => this.outcome(),
    });
  }

  private async finish(supervised: Promise<Outcome>): Promise<void> {
    const outcome = await supervised;
    await this.logs.flush();
    const status = this.control.reportedStatus(outcome.status);
    const end = {
      run: this.run,
      workerId: this.workerId,
      status,
      progress: this.progress,
      startedAt: this.startedAt,
      contextUpdate: status === 'SUCCEEDED' ? this.contextUpdate?.value() : undefined,
    };
    await reportFinal(this.finals, this.bus, this.app, end, outcome, this.log);
  }

  private async outcome(): Promise<Outcome> {
    const { run, processor } = this;
    if (!processor) {
      return {
        status: 'FAILED',
        result: `no processor named "${run.processorName}" on worker ${this.workerId}`,
      };
    }
    if (run.executeType !== 'STANDALONE') {
      return { status: 'FAILED', result: `frequent ${run.executeType} runs are not supported yet` };
    }
    if (processor.kind !== 'basic') {
      return {
        status: 'FAILED',
        result: `processor "${processor.name}" is a ${processor.kind} processor; STANDALONE needs a basic one`,
      };
    }
    const parsed = parseRunParams(processor, run);
    if (!parsed.ok) return { status: 'FAILED', result: parsed.result };
    return run.frequency
      ? this.repeat(processor, parsed.params, run.frequency)
      : this.once(processor, parsed.params, 'root');
  }

  private async once(
    processor: BasicProcessor<unknown>,
    params: unknown,
    taskId: string,
  ): Promise<Outcome> {
    // A run begun ahead of its time: its processor starts at its time.
    const startAt = this.startAt;
    this.startAt = undefined;
    this.startedAt ??=
      Date.now() + (startAt === undefined ? 0 : Math.ceil(Math.max(0, startAt - monotonicMs())));
    // New objects (a report may hold the old one), made without spreads: ~1 µs each.
    const before = this.progress;
    this.progress = {
      total: before.total + 1,
      succeeded: before.succeeded,
      failed: before.failed,
      running: 1,
    };
    const outcome = await withAttempts(this.run.taskRetry, this.control.source, async (attempt) => {
      const run = {
        instanceId: this.run.instanceId,
        jobId: this.run.jobId,
        jobParams: this.run.jobParams,
        params,
        runAttempt: this.run.runAttempt ?? 1,
        workflow: this.run.workflow,
      };
      this.contextUpdate?.clear(); // a retried attempt starts clean
      const task = {
        taskId,
        taskName: 'root',
        attempt,
        isRootTask: true,
        payload: null,
      };
      const logger = this.logs.forTask(taskId); // one task per run: no need to defer
      const hooks = {
        log: () => logger,
        map: () => Promise.reject(new Error('a standalone run cannot map tasks')),
        setContext: this.contextUpdate
          ? (key: string, value: unknown) => this.contextUpdate?.set(key, value)
          : undefined,
      };
      return this.executor.process(processor, run, task, hooks, this.control.source, startAt);
    });
    const ok = outcome.status === 'SUCCEEDED';
    const now = this.progress;
    this.progress = {
      total: now.total,
      succeeded: now.succeeded + (ok ? 1 : 0),
      failed: now.failed + (ok ? 0 : 1),
      running: 0,
    };
    return outcome;
  }

  /** A frequent job: one firing per interval until stopped; counts go in the progress. */
  private async repeat(
    processor: BasicProcessor<unknown>,
    params: unknown,
    frequency: NonNullable<RunJob['frequency']>,
  ): Promise<Outcome> {
    let tick = 0;
    let next = monotonicMs();
    try {
      while (!this.control.stopped) {
        const outcome = await this.once(processor, params, `tick-${++tick}`);
        if (outcome.status === 'FAILED')
          this.logs.forTask(`tick-${tick}`).warn(`firing failed: ${outcome.result}`);
        // FIXED_RATE keeps to the clock (skipping firings it overran); FIXED_DELAY waits after each one.
        next =
          frequency.type === 'FIXED_RATE'
            ? Math.max(next + frequency.intervalMs, monotonicMs())
            : monotonicMs() + frequency.intervalMs;
        await sleep(next - monotonicMs(), this.control.source);
      }
    } catch {
      // Aborted while waiting: stopped.
    }
    return {
      status: 'STOPPED',
      result: `fired ${tick} times (${this.progress.succeeded} succeeded)`,
    };
  }

  private async report(): Promise<void> {
    const reply = await reportRunning(this.bus, this.app, this.statusMessage('RUNNING'), this.log);
    if (reply?.stop) this.stop(reply.reason ?? 'the server asked this TaskTracker to stop');
  }

  private statusMessage(status: 'RUNNING' | 'WAITING_DISPATCH' | Outcome['status']) {
    return statusReport(this.run, this.workerId, status, this.progress);
  }
}
