import { DroverError, monotonicMs, routes, type ttMessages } from '@drover/protocol';
import type { Bus, DroverLogger as Logger } from '@drover/transport';
import type { z } from 'zod/v4';
import { RunLogShipper } from '../sdk/online-logger.js';
import type { Processor, ProcessorContext } from '../sdk/processor.js';
import { ContextUpdate } from '../sdk/workflow-context.js';
import { backoffDelayMs, type Outcome, sleep, withAttempts } from './attempts.js';
import type { FinalReporter } from './final-reporter.js';
import { resultText } from './final-result.js';
import { reportFinal, reportRunning, statusReport, superviseRun } from './instance-reports.js';
import { RunControl } from './run-control.js';
import { parseRunParams } from './run-params.js';
import { StartTasksSender } from './start-tasks-sender.js';
import { failedTasksReason } from './task-failures.js';
import { type DispatchedTask, TaskStore } from './task-store.js';

type RunJob = z.output<typeof ttMessages.RunJob>;
type MapTask = z.output<typeof ttMessages.MapTask>;
type ReportTaskStatus = z.output<typeof ttMessages.ReportTaskStatus>;

/** A ProcessorTracker silent this long has its tasks dispatched again elsewhere. */
export const PT_DEAD_MS = 5_000;
// Half a second: a dead ProcessorTracker's tasks leave within PT_DEAD_MS + 1 s, dispatch included.
const WATCHDOG_MS = 500;
/** With no ProcessorTracker alive for this long, the run fails. */
const NO_PEER_GIVE_UP_MS = 30_000;

interface Peer {
  inFlight: number;
  lastSeen: number;
  dead: boolean;
  /** It refused tasks or gave them back (its worker is draining): it gets no more. */
  closed: boolean;
}

const EXPECTED_KIND = {
  MAP: ['map', 'mapReduce'],
  MAP_REDUCE: ['mapReduce'],
  BROADCAST: ['broadcast'],
} as const;

/**
 * The heavy TaskTracker: owns a MAP, MAP_REDUCE or BROADCAST run. It stores
 * tasks idempotently, dispatches them event-driven to the ProcessorTrackers of
 * the run's workers within their credit (free slots plus a prefetch), retries
 * failed tasks, re-dispatches the tasks of a silent ProcessorTracker with the
 * next attempt (a late result from an older attempt is ignored), and ends
 * with reduce or postProcess.
 */
export class HeavyTracker {
  private readonly control = new RunControl();
  private readonly store = new TaskStore();
  private readonly peers = new Map<string, Peer>();
  private readonly logs: RunLogShipper;
  private readonly sender: StartTasksSender;
  private readonly credit: number;
  private finished: () => void = () => {};
  private readonly allFinal = new Promise<void>((resolve) => {
    this.finished = resolve;
  });
  private lastPeerAlive = monotonicMs();
  /** A task failed with NonRetryableError: a failed MAP run is then not retried either. */
  private nonRetryableTask = false;
  /** This worker is draining: with no ProcessorTracker left, the run goes back to the server. */
  private leaving = false;
  readonly done: Promise<void>;
  /** What the TaskTracker's own steps (preProcess, reduce, postProcess) set in a workflow's context. */
  private readonly contextUpdate: ContextUpdate | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly app: string,
    private readonly workerId: string,
    readonly run: RunJob,
    private readonly processor: Processor | undefined,
    private readonly log: Logger,
    private readonly finals: FinalReporter,
  ) {
    this.logs = new RunLogShipper(bus, app, workerId, run.instanceId, run.logLevel, log);
    this.sender = new StartTasksSender(bus, app, workerId, run);
    this.contextUpdate = run.workflow ? new ContextUpdate(run.workflow) : undefined;
    const perWorker = run.concurrencyPerWorker ?? 5;
    // Free slots plus a prefetch of three times as many: results come back in
    // batches, and the next tasks must already be there when they leave.
    this.credit = perWorker * 4;
    const workers = run.workers.length ? run.workers : [workerId];
    for (const w of workers)
      this.peers.set(w, { inFlight: 0, lastSeen: monotonicMs(), dead: false, closed: false });
    this.done = this.execute().catch((err: unknown) => this.log.error({ err }, 'tracker failed'));
  }

  get epoch(): number {
    return this.run.epoch;
  }

  /** Task counts now, for `query_instance_status`. */
  get progress() {
    return this.store.progress();
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

  /**
   * This worker drains. Once no ProcessorTracker of the run is left (the other
   * workers drain too), waiting out the grace only risks the no-peer give-up:
   * the run goes back to the server at once, for workers that stay.
   */
  workerLeaving(): void {
    this.leaving = true;
    this.handBackIfAlone();
  }

  private handBackIfAlone(): void {
    if (this.control.stopped || !this.leaving) return;
    if (![...this.peers.values()].some((p) => !p.dead && !p.closed))
      this.handBack('no ProcessorTracker left, and this worker is draining');
  }

  /** A draining ProcessorTracker gives back what it still holds. */
  onRelease(workerId: string): { released: number } {
    const peer = this.peers.get(workerId);
    if (!peer) return { released: 0 };
    peer.closed = true;
    const released = this.markDead(workerId);
    this.log.info(
      { worker: workerId, released },
      'a draining ProcessorTracker gave back its tasks',
    );
    this.handBackIfAlone();
    return { released };
  }

  /**
   * Why a `map_task` batch is not this run's, or undefined when it is: only
   * the ProcessorTracker the parent task is out with, at its current attempt,
   * while it runs, in this epoch, may add sub-tasks (anything else is a replay
   * or an injection).
   */
  mapTaskRefusal(req: MapTask): string | undefined {
    const { epoch, workerId, parentAttempt } = req;
    if (epoch === undefined || workerId === undefined || parentAttempt === undefined)
      return `map_task for instance ${req.instanceId} without epoch, workerId and parentAttempt`;
    if (epoch !== this.run.epoch)
      return `map_task for instance ${req.instanceId} at epoch ${epoch}; the run is at epoch ${this.run.epoch}`;
    if (this.control.stopped) return `map_task for instance ${req.instanceId}: the run ended`;
    const attempt = this.store.attemptWith(req.parentTaskId, workerId);
    if (attempt === 0 || attempt !== parentAttempt)
      return `map_task for instance ${req.instanceId}: task ${req.parentTaskId} attempt ${parentAttempt} is not running on worker ${workerId}`;
    return undefined;
  }

  /** Sub-tasks from a processor's `ctx.map` (see mapTaskRefusal): stored once per batch and task id. */
  onMapTask(req: MapTask): { stored: number; duplicate: boolean } {
    const added = this.store.addBatch(
      req.batchId,
      req.tasks.map((t) => ({ id: t.taskId, name: req.taskName, payload: t.payload })),
    );
    this.pump();
    return added === 'duplicate'
      ? { stored: 0, duplicate: true }
      : { stored: added, duplicate: false };
  }

  onTaskResults(req: ReportTaskStatus): { applied: number } {
    const peer = this.peers.get(req.workerId);
    if (peer) this.seen(peer);
    let applied = 0;
    for (const r of req.results) {
      const attempt = this.store.attemptWith(r.taskId, req.workerId);
      if (attempt === 0 || attempt !== r.attempt) continue; // stale, duplicate or not its task
      if (peer) peer.inFlight--;
      applied++;
      const retry =
        r.status === 'FAILED' &&
        !r.nonRetryable &&
        attempt < this.run.taskRetry.maximumAttempts &&
        !this.store.isPinned(r.taskId);
      if (retry) this.retryLater(r.taskId, attempt);
      else this.store.complete(r.taskId, attempt, r.status, r.result ?? null);
      if (r.status === 'FAILED' && r.nonRetryable) this.nonRetryableTask = true;
    }
    this.pump();
    if (this.store.allFinal) this.finished();
    return { applied };
  }

  /**
   * The task sits out its backoff outside the queue; a duplicate result
   * meanwhile finds it not dispatched and is ignored.
   */
  private retryLater(taskId: string, attempt: number): void {
    this.store.backOff(taskId);
    const delay = backoffDelayMs(this.run.taskRetry, attempt);
    if (delay <= 0) {
      this.store.release(taskId);
      return;
    }
    void sleep(delay, this.control.source).then(
      () => {
        this.store.release(taskId);
        this.pump();
      },
      () => undefined,
    );
  }

  onPtHeartbeat(workerId: string): void {
    const peer = this.peers.get(workerId);
    if (peer) this.seen(peer);
  }

  private seen(peer: Peer): void {
    peer.lastSeen = monotonicMs();
    if (peer.dead && !peer.closed) {
      peer.dead = false;
      this.pump();
    }
  }

  private async execute(): Promise<void> {
    const watchdog = setInterval(() => this.watch(), WATCHDOG_MS);
    let outcome: Outcome;
    const startedAt = Date.now();
    try {
      outcome = await superviseRun({
        timeoutMs: this.run.timeoutMs,
        // A map run's first report asks for workers that joined since the dispatch; others wait a beat.
        reportAtStart: this.wantsWorkers,
        report: () => this.report(),
        stop: (reason) => this.stop(reason),
        body: () => this.outcome(),
      });
    } finally {
      clearInterval(watchdog);
    }
    await this.stopProcessorTrackers();
    await this.logs.flush();
    const status = this.control.reportedStatus(outcome.status);
    const end = {
      run: this.run,
      workerId: this.workerId,
      status,
      progress: this.store.progress(),
      startedAt,
      contextUpdate: status === 'SUCCEEDED' ? this.contextUpdate?.value() : undefined,
    };
    await reportFinal(this.finals, this.bus, this.app, end, outcome, this.log);
  }

  private ctx(): ProcessorContext<never> {
    return {
      instanceId: this.run.instanceId,
      jobId: this.run.jobId,
      jobParams: this.run.jobParams,
      params: this.params as never,
      taskId: 'tracker',
      taskName: 'tracker',
      attempt: 1,
      runAttempt: this.run.runAttempt ?? 1,
      log: this.logs.forTask('tracker'),
      signal: this.control.signal,
      workflow: this.contextUpdate?.handle(),
    };
  }

  private params: unknown;

  private async outcome(): Promise<Outcome> {
    const { run, processor } = this;
    if (!processor)
      return {
        status: 'FAILED',
        result: `no processor named "${run.processorName}" on worker ${this.workerId}`,
      };
    const kinds: readonly string[] =
      EXPECTED_KIND[run.executeType as keyof typeof EXPECTED_KIND] ?? [];
    if (!kinds.includes(processor.kind)) {
      return {
        status: 'FAILED',
        result: `processor "${processor.name}" is a ${processor.kind} processor; ${run.executeType} needs ${kinds.join(' or ')}`,
      };
    }
    const parsed = parseRunParams(processor, run);
    if (!parsed.ok) return { status: 'FAILED', result: parsed.result };
    this.params = parsed.params;

    if (processor.kind === 'broadcast' && processor.preProcess) {
      const pre = await withAttempts(run.taskRetry, this.control.source, () =>
        Promise.resolve(processor.preProcess?.(this.ctx())),
      );
      if (pre.status !== 'SUCCEEDED')
        return { status: pre.status, result: `preProcess: ${resultText(pre.result)}` };
    }
    const seeds =
      processor.kind === 'broadcast'
        ? [...this.peers.keys()].map((w) => ({
            id: `broadcast.${w}`,
            name: 'broadcast',
            payload: null,
            pinnedTo: w,
          }))
        : [{ id: 'root', name: 'root', payload: null }];
    this.store.addBatch('seed', seeds);
    this.pump();

    const aborted = new Promise<void>((resolve) =>
      this.control.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    await Promise.race([this.allFinal, aborted]);
    if (this.control.stopped) {
      const reason = (this.control.signal.reason as Error).message;
      return {
        status: reason.includes('timed out') || reason.includes('alive') ? 'FAILED' : 'STOPPED',
        result: reason,
      };
    }
    const results = this.store.outcomes();
    const failedReason = failedTasksReason(results);
    if (processor.kind === 'mapReduce') {
      // reduce is not fed failures unless it opted in to partial results.
      if (failedReason && !processor.reducePartial)
        return { status: 'FAILED', result: failedReason, nonRetryable: this.nonRetryableTask };
      return withAttempts(run.taskRetry, this.control.source, () =>
        Promise.resolve(processor.reduce(this.ctx(), results)),
      );
    }
    if (processor.kind === 'broadcast' && processor.postProcess) {
      return withAttempts(run.taskRetry, this.control.source, () =>
        Promise.resolve(processor.postProcess?.(this.ctx(), results)),
      );
    }
    return failedReason
      ? { status: 'FAILED', result: failedReason, nonRetryable: this.nonRetryableTask }
      : { status: 'SUCCEEDED', result: `${results.length} tasks succeeded` };
  }

  /** Sends waiting tasks to every live ProcessorTracker with credit left. */
  private pump(): void {
    if (this.control.stopped) return;
    for (const [worker, peer] of this.peers) {
      if (peer.dead || peer.closed) continue;
      const room = this.credit - peer.inFlight;
      if (room <= 0 || this.store.waiting === 0) continue;
      const tasks = this.store.take(worker, room);
      if (!tasks.length) continue;
      // Idle past the dead bound (its ProcessorTracker may not exist yet, or
      // stopped idle): its silence counts from now, when it gets work.
      if (peer.inFlight === 0 && monotonicMs() - peer.lastSeen > PT_DEAD_MS)
        peer.lastSeen = monotonicMs();
      peer.inFlight += tasks.length;
      void this.send(worker, tasks);
    }
  }

  private async send(worker: string, tasks: DispatchedTask[]): Promise<void> {
    try {
      const refused = await this.sender.send(worker, tasks);
      if (refused.length) this.refused(worker, refused);
    } catch (err) {
      this.log.warn(
        { worker, err: err instanceof DroverError ? err.code : (err as Error).message },
        'ProcessorTracker unreachable',
      );
      this.markDead(worker);
    }
  }

  /** Its worker is draining: these tasks go elsewhere, and so do later ones. */
  private refused(worker: string, tasks: { taskId: string; attempt: number }[]): void {
    const peer = this.peers.get(worker);
    if (!peer) return;
    peer.closed = true;
    for (const t of tasks) {
      if (this.store.attemptWith(t.taskId, worker) !== t.attempt) continue;
      if (this.store.isPinned(t.taskId)) this.store.fail(t.taskId, `worker ${worker} is draining`);
      else this.store.requeue(t.taskId);
      peer.inFlight--;
    }
    this.pump();
    if (this.store.allFinal) this.finished();
  }

  /** Takes back every task out with this worker; returns how many. */
  private markDead(worker: string): number {
    const peer = this.peers.get(worker);
    if (!peer || peer.dead) return 0;
    peer.dead = true;
    peer.inFlight = 0;
    const held = this.store.dispatchedTo(worker);
    for (const id of held) {
      if (this.store.isPinned(id)) this.store.fail(id, `worker ${worker} was lost`);
      else this.store.requeue(id); // first in line; next dispatch is attempt + 1
    }
    if (held.length)
      this.log.info(
        { worker, redispatched: held.length, tasks: held.slice(0, 32) },
        'tasks of a lost ProcessorTracker go first',
      );
    this.pump();
    if (this.store.allFinal) this.finished();
    return held.length;
  }

  private watch(): void {
    const now = monotonicMs();
    for (const [worker, peer] of this.peers) {
      if (!peer.dead && peer.inFlight > 0 && now - peer.lastSeen > PT_DEAD_MS) {
        this.log.warn(
          { worker, inFlight: peer.inFlight, silentMs: now - peer.lastSeen },
          'ProcessorTracker silent; its tasks go to other workers',
        );
        this.markDead(worker);
      }
    }
    this.handBackIfAlone();
    if ([...this.peers.values()].some((p) => !p.dead && !p.closed)) this.lastPeerAlive = now;
    else if (now - this.lastPeerAlive > NO_PEER_GIVE_UP_MS) this.stop('no ProcessorTracker alive');
  }

  private async stopProcessorTrackers(): Promise<void> {
    await Promise.all(
      [...this.peers.keys()].map((w) =>
        this.bus
          .ask(
            routes.pt.stopInstance,
            { app: this.app, workerId: w },
            { instanceId: this.run.instanceId, reason: 'run finished' },
          )
          .catch(() => undefined),
      ),
    );
  }

  private async report(): Promise<void> {
    const message = { ...this.message('RUNNING'), wantsWorkers: this.wantsWorkers || undefined };
    const reply = await reportRunning(this.bus, this.app, message, this.log);
    if (reply?.stop) this.stop(reply.reason ?? 'the server asked this TaskTracker to stop');
    else if (reply?.workers) this.join(reply.workers);
  }

  /** Map tasks can run on any worker: a RUNNING report's reply lists workers that joined since dispatch. */
  private get wantsWorkers(): boolean {
    return this.processor?.kind === 'map' || this.processor?.kind === 'mapReduce';
  }

  /** Workers the server lists for the run now: new ones take part, up to maxWorkerCount live. */
  private join(workers: string[]): void {
    if (this.leaving || this.control.stopped) return;
    const max = this.run.maxWorkerCount || Number.POSITIVE_INFINITY;
    let live = [...this.peers.values()].filter((p) => !p.dead && !p.closed).length;
    const joined: string[] = [];
    for (const w of workers) {
      if (live >= max) break;
      if (this.peers.has(w)) continue; // taking part, or dead or leaving (a heartbeat revives it)
      this.peers.set(w, { inFlight: 0, lastSeen: monotonicMs(), dead: false, closed: false });
      joined.push(w);
      live++;
    }
    if (!joined.length) return;
    this.log.info({ workers: joined }, 'workers joined the run');
    this.pump();
  }

  private message(status: 'RUNNING' | 'WAITING_DISPATCH' | Outcome['status']) {
    return statusReport(this.run, this.workerId, status, this.store.progress());
  }
}
