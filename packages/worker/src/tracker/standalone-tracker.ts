import { routes, Timing, type ttMessages } from '@drover/protocol';
import type { Bus } from '@drover/transport';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { RunLogShipper } from '../sdk/online-logger.js';
import type { Processor, ProcessorContext } from '../sdk/processor.js';
import { type Outcome, sleep, withAttempts } from './attempts.js';

type RunJob = z.output<typeof ttMessages.RunJob>;

// A final report is retried until the server acknowledges it, within this bound.
const FINAL_REPORT_DEADLINE_MS = 10 * 60_000;

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ');
}

/**
 * The light TaskTracker: owns one STANDALONE run (or a FIXED_RATE /
 * FIXED_DELAY job's long-lived run) on this worker, reports its progress every
 * few seconds and its final result, with the dispatch epoch, until the server
 * acknowledges it.
 */
export class StandaloneTracker {
  private readonly abort = new AbortController();
  private readonly logs: RunLogShipper;
  private progress = { total: 0, succeeded: 0, failed: 0, running: 0 };
  readonly done: Promise<void>;

  constructor(
    private readonly bus: Bus,
    private readonly app: string,
    private readonly workerId: string,
    readonly run: RunJob,
    private readonly processor: Processor | undefined,
    private readonly log: Logger,
  ) {
    this.logs = new RunLogShipper(bus, app, workerId, run.instanceId, run.logLevel, log);
    this.done = this.execute().catch((err: unknown) => this.log.error({ err }, 'tracker failed'));
  }

  get epoch(): number {
    return this.run.epoch;
  }

  get running(): boolean {
    return this.progress.running > 0;
  }

  /** Aborts the run; its processor sees `ctx.signal` abort. */
  stop(reason: string): void {
    if (!this.abort.signal.aborted) this.abort.abort(new Error(reason));
  }

  private async execute(): Promise<void> {
    const reporting = setInterval(() => void this.report('RUNNING'), Timing.INSTANCE_REPORT_MS);
    const timeout =
      this.run.timeoutMs > 0 && !this.run.frequency
        ? setTimeout(
            () => this.stop(`timed out after ${this.run.timeoutMs} ms`),
            this.run.timeoutMs,
          )
        : undefined;
    let outcome: Outcome;
    try {
      await this.report('RUNNING');
      outcome = await this.outcome();
    } finally {
      clearInterval(reporting);
      clearTimeout(timeout);
    }
    await this.logs.flush();
    await this.reportFinal(outcome);
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
      return {
        status: 'FAILED',
        result: `execute type ${run.executeType} is not supported by this worker yet`,
      };
    }
    const raw = run.instanceParams ?? run.jobParams;
    const parsed = processor.params
      ? processor.params.safeParse(raw)
      : { success: true as const, data: raw };
    if (!parsed.success) {
      return {
        status: 'FAILED',
        result: `invalid params for processor "${processor.name}": ${formatIssues(parsed.error)}`,
      };
    }
    return run.frequency ? this.repeat(parsed.data, run.frequency) : this.once(parsed.data, 'root');
  }

  private async once(params: unknown, taskId: string): Promise<Outcome> {
    this.progress = { ...this.progress, total: this.progress.total + 1, running: 1 };
    const outcome = await withAttempts(this.run.taskRetry, this.abort.signal, async (attempt) => {
      const ctx: ProcessorContext<never> = {
        instanceId: this.run.instanceId,
        jobId: this.run.jobId,
        jobParams: this.run.jobParams,
        params: params as never,
        taskId,
        taskName: 'root',
        attempt,
        log: this.logs.forTask(taskId),
        signal: this.abort.signal,
      };
      return (this.processor as Processor).process(ctx);
    });
    const key = outcome.status === 'SUCCEEDED' ? 'succeeded' : 'failed';
    this.progress = { ...this.progress, running: 0, [key]: this.progress[key] + 1 };
    return outcome;
  }

  /** A frequent job: one firing per interval until stopped; counts go in the progress. */
  private async repeat(
    params: unknown,
    frequency: NonNullable<RunJob['frequency']>,
  ): Promise<Outcome> {
    let tick = 0;
    let next = Date.now();
    try {
      while (!this.abort.signal.aborted) {
        const outcome = await this.once(params, `tick-${++tick}`);
        if (outcome.status === 'FAILED')
          this.logs.forTask(`tick-${tick}`).warn(`firing failed: ${outcome.result}`);
        // FIXED_RATE keeps to the clock (skipping firings it overran); FIXED_DELAY waits after each one.
        next =
          frequency.type === 'FIXED_RATE'
            ? Math.max(next + frequency.intervalMs, Date.now())
            : Date.now() + frequency.intervalMs;
        await sleep(next - Date.now(), this.abort.signal);
      }
    } catch {
      // Aborted while waiting: stopped.
    }
    return {
      status: 'STOPPED',
      result: `fired ${tick} times (${this.progress.succeeded} succeeded)`,
    };
  }

  private async report(status: 'RUNNING'): Promise<void> {
    try {
      const reply = await this.bus.ask(
        routes.server.reportInstanceStatus,
        { app: this.app },
        this.statusMessage(status),
      );
      if (reply.stop) this.stop(reply.reason ?? 'the server asked this TaskTracker to stop');
    } catch (err) {
      // The next beat repeats it; a long silence ends the run on the server's side.
      this.log.debug({ err: (err as Error).message }, 'progress report not delivered');
    }
  }

  private async reportFinal(outcome: Outcome): Promise<void> {
    try {
      const reply = await this.bus.reliableAsk(
        routes.server.reportInstanceStatus,
        { app: this.app },
        { ...this.statusMessage(outcome.status), result: outcome.result.slice(0, 65_536) },
        {
          deadlineMs: FINAL_REPORT_DEADLINE_MS,
          idempotencyKey: `${this.run.instanceId}-${this.run.epoch}-final`,
        },
      );
      this.log.info(
        { status: outcome.status, accepted: reply.accepted, reason: reply.reason },
        'run finished',
      );
    } catch (err) {
      this.log.error(
        { err: (err as Error).message },
        'final report never acknowledged; the server will settle the run',
      );
    }
  }

  private statusMessage(status: 'RUNNING' | Outcome['status']) {
    return {
      instanceId: this.run.instanceId,
      epoch: this.run.epoch,
      workerId: this.workerId,
      status,
      progress: this.progress,
      reportedAt: Date.now(),
    };
  }
}
