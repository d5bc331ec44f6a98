import { randomUUID } from 'node:crypto';
import {
  encode,
  isRetryable,
  monotonicMs,
  routes,
  type serverMessages,
  Timing,
} from '@drover/protocol';
import type { DroverLogger as Logger } from '@drover/transport';
import { type Bus, maxPayload } from '@drover/transport';
import type { z } from 'zod/v4';

export type FinalReport = z.input<typeof serverMessages.FinalReport>;
export type FinalAnswer = { accepted: boolean; stop: boolean; reason?: string };
type Single = z.input<typeof serverMessages.ReportInstanceStatus>;

/** A final report is retried until the server acknowledges it, within this bound. */
export const FINAL_REPORT_DEADLINE_MS = 10 * 60_000;
/** Reports in one `report_finals` message. */
export const MAX_FINALS_PER_BATCH = 500;
/**
 * `report_finals` batches in flight at once. One capped a worker's finals at
 * 500 per round trip, below what its processors finish when the server is
 * busy: the finished runs then waited in memory (6,236 of them, 44 MB, in
 * `pnpm bench runs`), and the last ended ~1.2 s after the last was added.
 */
export const MAX_BATCHES_IN_FLIGHT = 2;
const BEAT_CHECK_MS = 1_000;

// A report's bytes but its result's and context's: its longest ids, counts and
// times, with an empty result and context (measured once).
const MAX_COUNT = Number.MAX_SAFE_INTEGER;
const FIXED_BYTES = encode({
  instanceId: '9'.repeat(20),
  epoch: MAX_COUNT,
  status: 'SUCCEEDED',
  progress: { total: MAX_COUNT, succeeded: MAX_COUNT, failed: MAX_COUNT, running: MAX_COUNT },
  result: '',
  startedAt: MAX_COUNT,
  reportedAt: MAX_COUNT,
  nonRetryable: true,
  contextUpdate: {},
} satisfies FinalReport).byteLength;

/**
 * At least the bytes `report` takes in a batch, for sizing batches. Not by
 * encoding it (that cost ~10 µs a run, and the batch is encoded again): a
 * string result, the common case, is its UTF-8 length plus the longest
 * msgpack string header.
 */
export function reportBytes(report: FinalReport): number {
  const { result, contextUpdate } = report;
  const resultBytes =
    typeof result === 'string'
      ? Buffer.byteLength(result) + 5
      : result === undefined || result === null || typeof result !== 'object'
        ? 9 // a number (float64 at most), a boolean, nil
        : encode(result).byteLength;
  return FIXED_BYTES + resultBytes + (contextUpdate ? encode(contextUpdate).byteLength : 0);
}

interface Pending {
  report: FinalReport;
  /** Reports the run RUNNING (its final is not stored yet); false once the server said stop. */
  beat: () => Promise<boolean>;
  beating: boolean;
  /** When it was queued or last reported RUNNING. */
  beatAt: number;
  bytes: number;
  deadline: number;
  done: (answer: FinalAnswer | undefined) => void;
}

/**
 * The worker's one sender of final reports: TaskTrackers hand it theirs and it
 * sends them in `report_finals` batches, up to MAX_BATCHES_IN_FLIGHT in
 * flight while the next forms (no linger: a lone report leaves on the next
 * turn of the event loop), each retried with the same
 * key until acknowledged. Until then, one timer reports every pending run
 * RUNNING every INSTANCE_REPORT_MS, so a final that Postgres cannot take yet
 * never lets its run look silent to the sweeper.
 */
export class FinalReporter {
  private readonly queue: Pending[] = [];
  private readonly sending = new Set<Pending>();
  private inFlight = 0;
  private scheduled = false;
  private readonly beats: NodeJS.Timeout;

  constructor(
    private readonly bus: Bus,
    private readonly app: string,
    private readonly workerId: string,
    private readonly log: Logger,
    /** Told of each run's final report as it is queued (metrics). */
    private readonly onReport: (report: FinalReport) => void = () => {},
  ) {
    // Checked every second, each run beaten once INSTANCE_REPORT_MS has passed: a
    // report acknowledged within that (nearly all) is never beaten.
    this.beats = setInterval(() => this.beatPending(), BEAT_CHECK_MS);
    this.beats.unref();
  }

  /** Resolves with the server's answer to this run's final, or undefined if never acknowledged. */
  report(report: FinalReport, beat: () => Promise<boolean>): Promise<FinalAnswer | undefined> {
    this.onReport(report);
    return new Promise((done) => {
      this.queue.push({
        report,
        beat,
        beating: true,
        beatAt: monotonicMs(),
        bytes: reportBytes(report),
        deadline: monotonicMs() + FINAL_REPORT_DEADLINE_MS,
        done,
      });
      this.schedule();
    });
  }

  /** `report_finals` batches sent and not answered yet. */
  get batchesInFlight(): number {
    return this.inFlight;
  }

  /** Reports pending (queued or in flight). */
  get pending(): number {
    return this.queue.length + this.sending.size;
  }

  close(): void {
    clearInterval(this.beats);
  }

  private beatPending(): void {
    const now = monotonicMs();
    for (const p of [...this.queue, ...this.sending]) {
      if (!p.beating || now - p.beatAt < Timing.INSTANCE_REPORT_MS) continue;
      p.beatAt = now;
      void p.beat().then((going) => {
        if (!going) p.beating = false;
      });
    }
  }

  /** Sends on the next turn of the event loop: runs ending together (one run_jobs batch) leave together. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < MAX_BATCHES_IN_FLIGHT && this.queue.length) {
      this.inFlight++;
      const batch = this.take();
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** The next batch: oldest first, up to 500 reports and half of NATS's max_payload. */
  private take(): Pending[] {
    const budget = maxPayload(this.bus.nc) / 2;
    const batch: Pending[] = [];
    let bytes = 0;
    while (batch.length < MAX_FINALS_PER_BATCH && this.queue.length) {
      const next = this.queue[0] as Pending;
      if (batch.length && bytes + next.bytes > budget) break;
      this.queue.shift();
      batch.push(next);
      bytes += next.bytes;
    }
    for (const p of batch) this.sending.add(p);
    return batch;
  }

  private async send(batch: Pending[]): Promise<void> {
    const deadlineMs = Math.min(...batch.map((p) => p.deadline)) - monotonicMs();
    try {
      if (deadlineMs <= 0) throw new Error('final report deadline passed while queued');
      const reply = await this.bus.reliableAsk(
        routes.server.reportFinals,
        { app: this.app },
        { workerId: this.workerId, reports: batch.map((p) => p.report) },
        { deadlineMs, idempotencyKey: randomUUID() },
      );
      batch.forEach((p, i) => {
        const answer = reply.results[i];
        this.finish(p, answer?.instanceId === p.report.instanceId ? answer : undefined);
      });
    } catch (err) {
      // A server refusing the batch as a whole (not one retry away): each report alone, as before.
      if (deadlineMs > 0 && !isRetryable(err)) {
        this.log.warn(
          { err: (err as Error).message, reports: batch.length },
          'report_finals refused; reporting these runs one by one',
        );
        await Promise.all(batch.map(async (p) => this.finish(p, await this.sendAlone(p))));
        return;
      }
      this.log.error(
        { err: (err as Error).message, reports: batch.length },
        'final reports never acknowledged; the server will settle these runs',
      );
      for (const p of batch) this.finish(p, undefined);
    }
  }

  private async sendAlone(p: Pending): Promise<FinalAnswer | undefined> {
    const { startedAt: _startedAt, ...report } = p.report;
    const single: Single = { ...report, workerId: this.workerId };
    try {
      return await this.bus.reliableAsk(
        routes.server.reportInstanceStatus,
        { app: this.app },
        single,
        {
          deadlineMs: Math.max(1, p.deadline - monotonicMs()),
          idempotencyKey: `${p.report.instanceId}-${p.report.epoch}-final`,
        },
      );
    } catch (err) {
      this.log.error(
        { err: (err as Error).message, instanceId: p.report.instanceId },
        'final report never acknowledged; the server will settle the run',
      );
      return undefined;
    }
  }

  private finish(p: Pending, answer: FinalAnswer | undefined): void {
    this.sending.delete(p);
    p.beating = false;
    p.done(answer);
  }
}
