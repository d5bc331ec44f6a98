import { randomBytes } from 'node:crypto';
import { HandlerError, type JsonValue, routes, type ttMessages } from '@drover/protocol';
import type { Bus, Handler } from '@drover/transport';
import type { z } from 'zod';

type RunJob = z.output<typeof ttMessages.RunJob>;
export type RunJobAnswer = 'accept' | 'refuse' | 'ignore';

export interface FakeWorkerOptions {
  app: string;
  workerId: string;
  /** This process start's id in its heartbeats (default: random). */
  incarnation?: string;
  processors?: string[];
  tags?: string[];
  freeSlots?: number;
  /** What to answer run_job with; accept by default. */
  onRunJob?: (req: RunJob) => RunJobAnswer;
  /** Report SUCCEEDED right after accepting (a no-op processor). */
  autoSucceed?: boolean;
  /** Report SUCCEEDED before answering run_job: a run so fast its end beats its accept. */
  succeedBeforeAnswer?: boolean;
  /** Report RUNNING for accepted runs every 300 ms, as a TaskTracker does (default true). */
  reportProgress?: boolean;
  /**
   * List accepted runs not yet final in heartbeats (`trackedInstances`), as a
   * worker does: the server then never takes them for silent (default false).
   */
  trackRuns?: boolean;
  /** Never answer query_instance_status, like a hung worker: the server's ask times out. */
  hangStatusQueries?: boolean;
  /** Heartbeat (and progress report) interval; default 200 ms. */
  beatEveryMs?: number;
  /**
   * Serve run_jobs too, each run answered as run_job answers it: a worker
   * older than the compact form (its heartbeat does not say compactRuns).
   */
  runJobs?: boolean;
}

/**
 * A stand-in for a worker's TaskTracker over real NATS, so server tests can
 * script what a worker does (accept, refuse, go silent, report late).
 */
export class FakeWorker {
  readonly runs: RunJob[] = [];
  readonly incarnation: string;
  /** The seq of the last heartbeat sent. */
  seq = 0;
  readonly stops: { instanceId: string; epoch?: number; reason: string }[] = [];
  /** query_instance_status asks received. */
  statusQueries = 0;
  private readonly handlers: Handler[] = [];
  private beat: NodeJS.Timeout | undefined;
  private markVanished: () => void = () => {};
  private readonly vanished = new Promise<void>((resolve) => {
    this.markVanished = resolve;
  });
  /** Accepted runs not yet reported final or stopped: key instanceId, value epoch. */
  readonly active = new Map<string, number>();
  private readonly waiters: { predicate: () => boolean; resolve: () => void }[] = [];

  constructor(
    readonly bus: Bus,
    readonly options: FakeWorkerOptions,
  ) {
    this.incarnation = options.incarnation ?? randomBytes(8).toString('hex');
  }

  async start(): Promise<this> {
    const address = { app: this.options.app, workerId: this.options.workerId };
    if (this.options.runJobs)
      this.handlers.push(
        this.bus.handle(routes.tt.runJobs, address, async (req) => ({
          results: await Promise.all(
            req.runs.map(async (run) => ({
              instanceId: run.instanceId,
              ...(await this.take(run)),
            })),
          ),
        })),
      );
    this.handlers.push(
      this.bus.handle(routes.tt.runJob, address, (req) => this.take(req)),
      // Like a worker: the epoch of a run it holds, or UNKNOWN_INSTANCE.
      this.bus.handle(routes.tt.queryInstanceStatus, address, async (req) => {
        this.statusQueries++;
        this.notify();
        if (this.options.hangStatusQueries) await this.vanished;
        const epoch = this.active.get(req.instanceId);
        if (epoch === undefined)
          throw new HandlerError('UNKNOWN_INSTANCE', `no TaskTracker for ${req.instanceId}`);
        const progress = { total: 1, succeeded: 0, failed: 0, running: 1 };
        return { instanceId: req.instanceId, epoch, status: 'RUNNING' as const, progress };
      }),
      this.bus.handle(routes.tt.stopInstance, address, (req) => {
        this.stops.push(req);
        if (req.epoch === undefined || this.active.get(req.instanceId) === req.epoch)
          this.active.delete(req.instanceId);
        this.notify();
        return { stopped: true };
      }),
    );
    await this.bus.nc.flush();
    this.heartbeat();
    this.beat = setInterval(() => {
      this.heartbeat();
      if (this.options.reportProgress !== false) this.reportActive();
    }, this.options.beatEveryMs ?? 200);
    return this;
  }

  /** Answers one offered run as `onRunJob` says (accept by default). */
  private async take(req: RunJob): Promise<{ accepted: boolean; reason?: string }> {
    const answer = this.options.onRunJob?.(req) ?? 'accept';
    // A worker that never answers: the ask times out on the server's side.
    if (answer === 'ignore') await this.vanished;
    if (answer === 'accept') {
      this.runs.push(req);
      this.active.set(req.instanceId, req.epoch);
      if (this.options.succeedBeforeAnswer) await this.report(req, 'SUCCEEDED', 'quick');
      if (this.options.autoSucceed) {
        setImmediate(() => {
          this.report(req, 'SUCCEEDED', 'ok').catch(() => undefined);
        });
      }
    }
    this.notify();
    return { accepted: answer === 'accept', reason: answer === 'refuse' ? 'busy' : undefined };
  }

  /** Sends the next heartbeat (or one with this seq, e.g. a replay). */
  heartbeat(seq = ++this.seq): void {
    this.bus.tell(
      routes.server.workerHeartbeat,
      { app: this.options.app },
      {
        app: this.options.app,
        workerId: this.options.workerId,
        incarnation: this.incarnation,
        seq,
        version: 'test',
        tags: this.options.tags ?? [],
        processors: this.options.processors ?? ['noop'],
        startedAt: Date.now(),
        sentAt: Date.now(),
        metrics: {
          cpuLoad: 0.1,
          cpuCores: 2,
          memoryUsedBytes: 1e9,
          memoryTotalBytes: 8e9,
          freeSlots: this.options.freeSlots ?? 4,
          totalSlots: 4,
        },
        trackedInstances: this.options.trackRuns ? [...this.active.keys()] : [],
      },
    );
  }

  private reportActive(): void {
    for (const [instanceId, epoch] of this.active) {
      this.report({ instanceId, epoch }, 'RUNNING').catch(() => undefined);
    }
  }

  /** Reports a status for a run as its TaskTracker would. */
  async report(
    run: { instanceId: string; epoch: number },
    status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'STOPPED' | 'WAITING_DISPATCH',
    result?: JsonValue,
    extra: { nonRetryable?: boolean } = {},
  ) {
    if (status !== 'RUNNING') this.active.delete(run.instanceId);
    const reply = await this.bus.ask(
      routes.server.reportInstanceStatus,
      { app: this.options.app },
      {
        instanceId: run.instanceId,
        epoch: run.epoch,
        workerId: this.options.workerId,
        status,
        progress: {
          total: 1,
          succeeded: status === 'SUCCEEDED' ? 1 : 0,
          failed: status === 'FAILED' ? 1 : 0,
          running: status === 'RUNNING' ? 1 : 0, // its processor is running
        },
        result,
        reportedAt: Date.now(),
        ...extra,
      },
    );
    if (reply.stop && this.active.get(run.instanceId) === run.epoch)
      this.active.delete(run.instanceId);
    return reply;
  }

  /** Resolves when the predicate holds after a run or stop arrives. */
  until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ predicate, resolve }));
  }

  private notify(): void {
    for (const w of [...this.waiters]) {
      if (w.predicate()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Stops heartbeats and handlers, like a worker that vanished. */
  async vanish(): Promise<void> {
    clearInterval(this.beat);
    this.active.clear();
    this.markVanished();
    await Promise.all(this.handlers.splice(0).map((h) => h.stop()));
  }
}
