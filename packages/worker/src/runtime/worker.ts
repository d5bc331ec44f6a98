import { randomBytes } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import {
  DROVER_VERSION,
  HandlerError,
  routes,
  Timing,
  type ttMessages,
  workerStatusSubject,
} from '@drover/protocol';
import type { DroverLogger as Logger } from '@drover/transport';
import {
  Bus,
  connectNats,
  type Handler,
  type HandlerContext,
  publishEvent,
  serversForLog,
} from '@drover/transport';
import type { NatsConnection } from '@nats-io/nats-core';
import type { z } from 'zod/v4';
import { InProcessExecutor, type ProcessorExecutor } from '../isolation/executor.js';
import { ThreadExecutor } from '../isolation/thread-executor.js';
import { ProcessorTracker } from '../processor/processor-tracker.js';
import type { Processor } from '../sdk/processor.js';
import { FinalReporter } from '../tracker/final-reporter.js';
import { HeavyTracker } from '../tracker/heavy-tracker.js';
import { setLongTimeout } from '../tracker/long-timeout.js';
import { StandaloneTracker, type TrackerStart } from '../tracker/standalone-tracker.js';
import { defaultLogger } from './default-logger.js';
import { Fences } from './fences.js';
import { currentMetrics } from './metrics.js';
import { type MetricsServer, startMetricsServer } from './metrics-server.js';
import { watchNatsPermissions } from './nats-permissions.js';
import { QueuedReports } from './queued-reports.js';
import { DEFAULT_MAX_QUEUED_RUNS, MAX_QUEUED_RUNS_LIMIT, RunQueue } from './run-queue.js';
import { TimedRuns } from './timed-runs.js';
import { TransitFloor } from './transit-floor.js';
import { checkWorker, WorkerRefusedError } from './worker-check.js';
import { WorkerMetrics } from './worker-metrics.js';

/** ProcessorTrackers (runs taking part here) at once; beyond it start_tasks for a new run is BUSY. */
export const MAX_PROCESSOR_TRACKERS = 1_024;
/**
 * How long before their time held runs are started, their processors waiting
 * for it: the worker's own start work for 1,000 runs due together (~3 µs a
 * run on the main thread, 20-30 µs with processor threads) is done by then,
 * and only the processor calls are left. Measured: CRON fire-to-start p99
 * ~105 ms with 20, 39-46 ms with 100 (docs/benchmarks.md).
 */
const START_LEAD_MS = 100;

type RunJob = z.output<typeof ttMessages.RunJob>;
/** How this worker answers one offered run (`run_job`, or one run of `run_jobs`). */
type RunAnswer = { accepted: boolean; reason?: string; full?: boolean; fenced?: boolean };

export interface WorkerOptions {
  natsUrl: string | string[];
  natsUser?: string;
  natsPass?: string;
  /** The app's worker nkey seed (`SU…` bytes, see `readNkeySeedFile`): NATS lets it use only this app's subjects. */
  natsNkeySeed?: Uint8Array;
  /** Accept a NATS without authentication (one warning) instead of refusing to start. */
  insecureNats?: boolean;
  app: string;
  processors: Processor[];
  workerId?: string;
  /**
   * Slots of this worker: standalone runs it holds at once (a frequent job's
   * long-lived run counts as one), and what it offers to map tasks.
   */
  concurrency?: number;
  /**
   * Standalone runs accepted beyond `concurrency`, queued and started in
   * arrival order as slots free (default 10,000); past it runs are refused as full.
   */
  maxQueuedRuns?: number;
  tags?: string[];
  version?: string;
  /**
   * The module(s) the processors came from (each thread loads them all).
   * With it, processors run in worker threads (so CPU-bound code cannot stall
   * heartbeats); without it, on this thread's event loop.
   */
  processorsModule?: string | readonly string[];
  /** Processor threads (default: concurrency); 0 runs processors on the main thread. */
  threads?: number;
  /** How long a draining worker lets runs finish before aborting them. */
  drainGraceMs?: number;
  /** A ProcessorTracker with no work for this long stops (default 30 s); its TaskTracker makes a new one if needed. */
  processorTrackerIdleMs?: number;
  /**
   * A server refused the app or worker id after start (no server answered at
   * start). Default: log it and stop the worker. A refusal at start rejects
   * `startWorker` instead.
   */
  onRefused?: (err: WorkerRefusedError) => void;
  /** Serve Prometheus metrics at `GET /metrics` on this port (0: any free one); off when omitted. */
  metricsPort?: number;
  /** Where the metrics port listens (default 127.0.0.1). */
  metricsHost?: string;
  /** Where the worker logs (any pino-compatible logger); default: pino at `info` on stderr. */
  logger?: Logger;
  /** @deprecated The same as `logger`. */
  log?: Logger;
}

export interface DroverWorker {
  workerId: string;
  /** Where `GET /metrics` answers, with `metricsPort` set. */
  metricsUrl?: string;
  /** Stops taking work, lets runs finish (or aborts them after the grace), deregisters. */
  stop(): Promise<void>;
}

/**
 * Starts a worker: connects to NATS (waiting for it with backoff), serves its
 * TaskTracker's handlers and heartbeats with health metrics every second.
 */
export async function startWorker(options: WorkerOptions): Promise<DroverWorker> {
  const workerId =
    options.workerId ??
    `${hostname()
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  const log = (options.logger ?? options.log ?? defaultLogger()).child({ workerId });
  const concurrency = options.concurrency ?? 8;
  const maxQueuedRuns = options.maxQueuedRuns ?? DEFAULT_MAX_QUEUED_RUNS;
  if (
    !Number.isInteger(maxQueuedRuns) ||
    maxQueuedRuns < 0 ||
    maxQueuedRuns > MAX_QUEUED_RUNS_LIMIT
  )
    throw new RangeError(`maxQueuedRuns must be an integer from 0 to ${MAX_QUEUED_RUNS_LIMIT}`);
  const processors = new Map(options.processors.map((p) => [p.name, p]));
  // More threads than cores only adds contention: a thread per core by default.
  const threads = options.threads ?? Math.min(concurrency, availableParallelism());
  const modules =
    typeof options.processorsModule === 'string'
      ? [options.processorsModule]
      : (options.processorsModule ?? []);
  const executor: ProcessorExecutor =
    modules.length > 0 && threads > 0
      ? new ThreadExecutor(modules, threads, log.child({ actor: 'threads' }))
      : new InProcessExecutor();
  // Threads that cannot load the modules fail the start, with the cause.
  if (executor instanceof ThreadExecutor) await executor.ready;
  const startedAt = Date.now();
  const nc: NatsConnection = await connectNats({
    servers: options.natsUrl,
    name: `worker-${workerId}`,
    user: options.natsUser,
    pass: options.natsPass,
    nkeySeed: options.natsNkeySeed,
    // Replies to this worker's requests come on its app's inboxes, which other apps cannot read.
    inboxPrefix: `_INBOX_${options.app}`,
    insecureNats: options.insecureNats,
    log,
    failOnAuthError: true,
  }).catch(async (err: unknown) => {
    await executor.close();
    throw err;
  });
  const permissions = watchNatsPermissions(nc, options.app, log);
  const bus = new Bus(nc, log.child({ actor: 'bus' }));
  // Read at scrape: what they read exists by the time the metrics port opens.
  const metrics = new WorkerMetrics({
    queuedRuns: () => queue.size,
    slotsBusy: () => busy(),
    slotsTotal: concurrency,
    taskTrackers: () => trackers.size,
    processorTrackers: () => processorTrackers.size,
    routeStats: () => bus.routeStats,
  });
  metrics.watch(nc);
  const processorCalls = metrics.counting(executor);
  // Random per process start: servers tell this process's heartbeats from
  // another's with the same worker id (a second process, or a replay).
  const incarnation = randomBytes(12).toString('base64url');
  let seq = 0;
  const checkAbort = new AbortController();
  const check = checkWorker(
    bus,
    { app: options.app, workerId, incarnation },
    serversForLog(options.natsUrl),
    log,
    checkAbort.signal,
  );
  try {
    // A key of another app is denied this app's inbox at once: no need to wait for an answer.
    await Promise.race([check.firstTry, permissions.denied]);
  } catch (err) {
    if (err instanceof WorkerRefusedError) {
      checkAbort.abort();
      await executor.close();
      await nc.close();
      throw err;
    }
    log.warn({ err: (err as Error).message }, 'worker check failed; starting anyway');
  }
  const fences = new Fences(log);
  // Every TaskTracker's final report goes through it, batched into report_finals.
  const finals = new FinalReporter(
    bus,
    options.app,
    workerId,
    log.child({ actor: 'final-reporter' }),
    (report) => metrics.runFinished(report.status),
  );
  const address = { app: options.app, workerId };
  const trackers = new Map<string, StandaloneTracker | HeavyTracker>();
  const processorTrackers = new Map<string, ProcessorTracker>();
  const heavy = (instanceId: string): HeavyTracker => {
    const t = trackers.get(instanceId);
    // Not retryable: the ProcessorTracker stops when its TaskTracker is gone.
    if (!(t instanceof HeavyTracker))
      throw new HandlerError('UNKNOWN_INSTANCE', `no TaskTracker for instance ${instanceId} here`);
    return t;
  };
  let draining = false;

  // Standalone runs started here (each is one processor at a time): capped by concurrency.
  let standaloneRunning = 0;
  // Standalone runs accepted beyond that, started as slots free.
  const queue = new RunQueue(maxQueuedRuns);
  // How much later than usual each sender's dispatch batches arrive (see TransitFloor).
  const transits = new TransitFloor();
  // Runs sent ahead of their time (CRON slots): started, or queued, at their time.
  // (A drain takes them all back and clears their timers first.)
  // Their standalone TaskTrackers are built while they wait and started
  // START_LEAD_MS early, their processors held until their time: at the due
  // moment only the processor calls are left (1,000 CRON runs due at once).
  const timed = new TimedRuns<StandaloneTracker>(
    (held) => {
      for (const { run, prepared } of held) {
        if (!startsNow(run)) queue.add(run);
        else if (prepared) beginTracker(prepared);
        else startTracker(run);
      }
    },
    {
      leadMs: START_LEAD_MS,
      take: ({ run, prepared }, at) => {
        if (!prepared || !startsNow(run)) return false;
        beginTracker(prepared, at);
        return true;
      },
    },
  );
  /** A run this worker accepted but has not started: queued, or held until its time. */
  const heldRun = (instanceId: string) => queue.get(instanceId) ?? timed.get(instanceId);
  const queuedReports = new QueuedReports(
    bus,
    options.app,
    workerId,
    log.child({ actor: 'queue' }),
  );
  // Slots in use: standalone runs (queued ones too), plus tasks the ProcessorTrackers run.
  const busy = () =>
    standaloneRunning +
    queue.size +
    [...processorTrackers.values()].reduce((n, pt) => n + pt.busy, 0);
  const heartbeat = () => {
    try {
      bus.tell(
        routes.server.workerHeartbeat,
        { app: options.app },
        {
          app: options.app,
          workerId,
          incarnation,
          seq: ++seq,
          version: options.version ?? DROVER_VERSION,
          tags: options.tags ?? [],
          processors: draining ? [] : [...processors.keys()],
          startedAt,
          sentAt: Date.now(),
          metrics: currentMetrics(concurrency, busy()),
          trackedInstances: [...trackers.keys(), ...queue.ids(), ...timed.ids()],
          timedStarts: true,
          compactRuns: true,
        },
      );
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'heartbeat not sent');
    }
  };

  const isStandalone = (run: RunJob) =>
    run.executeType === 'STANDALONE' || run.frequency !== undefined;
  // A standalone run waits behind the queue and the slots; the others have trackers of their own.
  const startsNow = (run: RunJob) =>
    !isStandalone(run) || (standaloneRunning < concurrency && queue.size === 0);

  const standaloneTracker = (run: RunJob, start: TrackerStart) =>
    new StandaloneTracker(
      bus,
      options.app,
      workerId,
      run,
      processors.get(run.processorName),
      log.child({ actor: 'task-tracker', instanceId: run.instanceId }),
      processorCalls,
      finals,
      start,
    );

  /** Starts a run whose accept went long ago (queued, or held until its time). */
  const startTracker = (run: RunJob) => {
    // Light tracker for single runs; heavy (task store, ProcessorTrackers) for the rest.
    const tracker = isStandalone(run)
      ? standaloneTracker(run, 'now')
      : new HeavyTracker(
          bus,
          options.app,
          workerId,
          run,
          processors.get(run.processorName),
          log.child({ actor: 'task-tracker', instanceId: run.instanceId }),
          finals,
        );
    track(tracker);
  };

  /**
   * Starts a run just accepted. It is tracked at once (it holds its slot, and
   * a retried dispatch finds it), and its processor starts once the accept is
   * written: a processor that ends its worker at once cannot leave the server
   * without an answer (it would move the run on, uncounted).
   */
  const startAccepted = (run: RunJob, afterReply: HandlerContext['afterReply']) => {
    if (!isStandalone(run)) return startTracker(run);
    const tracker = standaloneTracker(run, 'held');
    track(tracker);
    afterReply(() => tracker.begin());
  };

  /** A held run's tracker, built ahead of its time: its processor starts now, or at `at`. */
  const beginTracker = (tracker: StandaloneTracker, at?: number) => {
    track(tracker);
    tracker.begin(at);
  };

  const track = (tracker: StandaloneTracker | HeavyTracker) => {
    const { run } = tracker;
    trackers.set(run.instanceId, tracker);
    metrics.runStarted(run.executeType);
    void tracker.done.finally(() => {
      if (trackers.get(run.instanceId) === tracker) trackers.delete(run.instanceId);
    });
    if (!(tracker instanceof StandaloneTracker)) return;
    standaloneRunning++;
    // The slot frees when the processor is done, not when the server has
    // acknowledged its final report (the FinalReporter keeps that, retried):
    // a burst queued here flows at processor speed, not report round trips.
    void tracker.processed.then(() => {
      standaloneRunning--;
      startQueuedNextTurn();
      // Room again after being full: tell the servers now, not at the next beat.
      if (standaloneRunning + queue.size === concurrency - 1) heartbeat();
    });
  };

  // Slots freed in one turn start queued runs in the next: runs that end at
  // once would otherwise start the whole queue in one turn, holding up timers,
  // heartbeats and NATS meanwhile.
  let queuedStartArmed = false;
  const startQueuedNextTurn = () => {
    if (queuedStartArmed) return;
    queuedStartArmed = true;
    setImmediate(() => {
      queuedStartArmed = false;
      startQueued();
    });
  };

  // Queued runs start in arrival order as slots free (not while draining: they go back).
  const startQueued = () => {
    while (!draining && standaloneRunning < concurrency) {
      const next = queue.next();
      if (!next) return;
      startTracker(next);
    }
  };

  /**
   * Takes an offered run: starts it, queues it, or says why not (same rules
   * for run_job and run_jobs). `exact`: its `startInMs` names its due time
   * exactly (a server that stamps Drover-Sent-At); otherwise its start is
   * rounded up to a whole ms, to cover an older server's rounding of it.
   */
  const takeRun = (
    run: RunJob,
    receivedAt: number,
    afterReply: HandlerContext['afterReply'],
    exact = false,
  ): RunAnswer => {
    const current = trackers.get(run.instanceId);
    const queued = current ? undefined : heldRun(run.instanceId);
    // A retried dispatch.
    if ((current ?? queued)?.epoch === run.epoch) return { accepted: true };
    // A replay: this worker ran (or runs) this instance at this epoch or a later one.
    const seen = fences.runEpochs.get(run.instanceId);
    if (seen !== undefined && run.epoch <= seen)
      return {
        accepted: false,
        fenced: true,
        reason: `run_job for instance ${run.instanceId} at epoch ${run.epoch}: this worker already took epoch ${seen}`,
      };
    if (draining) return { accepted: false, reason: 'worker is draining' };
    const accept = (take: () => void): RunAnswer => {
      fences.runEpochs.note(run.instanceId, run.epoch);
      take();
      return { accepted: true };
    };
    // A newer epoch of a run still queued (or held) here: it keeps its place.
    if (queued)
      return accept(() => (queue.get(run.instanceId) ? queue.replace(run) : timed.replace(run)));
    const startInMs = run.startInMs ?? 0;
    if (startInMs > 0) {
      // Ahead of its time: held, within the queue's bound (it may have to queue then).
      if (queue.size + timed.size >= queue.capacity)
        return {
          accepted: false,
          full: true,
          reason: `worker at capacity (${queue.capacity} runs queued or held until their time)`,
        };
      // Counted from the message's arrival: time it waited here is not added.
      const startAt = receivedAt + startInMs;
      return accept(() =>
        timed.add(
          run,
          exact ? startAt : Math.ceil(startAt),
          isStandalone(run) ? standaloneTracker(run, 'held') : undefined,
        ),
      );
    }
    if (current)
      return accept(() => {
        current.stop(`superseded by epoch ${run.epoch}`);
        startAccepted(run, afterReply);
      });
    if (startsNow(run)) return accept(() => startAccepted(run, afterReply));
    // At its cap, and its queue full: the server offers the run to the next worker, or waits.
    if (queue.full)
      return {
        accepted: false,
        full: true,
        reason: `worker at capacity (${concurrency} standalone runs, ${queue.capacity} queued)`,
      };
    return accept(() => queue.add(run));
  };

  // The service first: route handlers are its endpoints, so `$SRV.STATS` counts their errors.
  const monitoring = await bus.startMonitoring({
    name: 'drover-worker',
    version: options.version ?? DROVER_VERSION,
    description: 'Drover worker: runs TaskTrackers, ProcessorTrackers and processors',
    metadata: { app: options.app, workerId },
  });
  const handlers: Handler[] = [
    bus.handle(routes.tt.runJob, address, (run, ctx) => {
      const answer = takeRun(run, ctx.receivedAt, ctx.afterReply);
      if (answer.fenced)
        throw fences.refuse(
          'runJob',
          {
            instanceId: run.instanceId,
            epoch: run.epoch,
            seen: fences.runEpochs.get(run.instanceId),
          },
          answer.reason ?? 'fenced',
        );
      return { accepted: answer.accepted, reason: answer.reason };
    }),
    // A dispatch batch: each run fenced and answered on its own, in order.
    bus.handle(routes.tt.runJobs, address, (req, ctx) => {
      // Timed runs count from when this message would have arrived undelayed.
      const arrivedAt =
        req.sentAt === undefined || req.senderClock === undefined
          ? ctx.receivedAt
          : transits.arrivedAt(req.senderClock, req.sentAt, ctx.receivedAt, ctx.meta.sentAt);
      return {
        results: req.runs.map((run) => {
          const answer = takeRun(run, arrivedAt, ctx.afterReply, ctx.meta.sentAt !== undefined);
          if (answer.fenced)
            fences.count(
              'runJob',
              1,
              { instanceId: run.instanceId, epoch: run.epoch },
              answer.reason ?? 'fenced',
            );
          return { instanceId: run.instanceId, ...answer };
        }),
      };
    }),
    bus.handle(routes.tt.mapTask, address, (req) => {
      const refusal = heavy(req.instanceId).mapTaskRefusal(req);
      if (refusal)
        throw fences.refuse(
          'mapTask',
          { instanceId: req.instanceId, parentTaskId: req.parentTaskId, from: req.workerId },
          refusal,
        );
      return heavy(req.instanceId).onMapTask(req);
    }),
    bus.handle(routes.tt.reportTaskStatus, address, (req) =>
      heavy(req.instanceId).onTaskResults(req),
    ),
    bus.handle(routes.tt.releaseTasks, address, (req) =>
      heavy(req.instanceId).onRelease(req.workerId),
    ),
    bus.handle(routes.tt.ptHeartbeat, address, (hb) => {
      const t = trackers.get(hb.instanceId);
      if (t instanceof HeavyTracker) t.onPtHeartbeat(hb.workerId);
      return null;
    }),
    bus.handle(routes.pt.startTasks, address, (req) => {
      const seenEpoch = fences.taskEpochs.get(req.instanceId);
      if (seenEpoch !== undefined && req.epoch < seenEpoch)
        throw fences.refuse(
          'startTasks',
          { instanceId: req.instanceId, epoch: req.epoch, seen: seenEpoch },
          `start_tasks for instance ${req.instanceId} at epoch ${req.epoch}: this worker already took epoch ${seenEpoch}`,
        );
      // A task at an attempt started here before is not run again.
      const started = (t: { taskId: string; attempt: number }) =>
        (fences.startedAttempts.get(`${req.instanceId}/${req.epoch}/${t.taskId}`) ?? 0) >=
        t.attempt;
      const fresh = req.tasks.filter((t) => !started(t));
      const duplicates = req.tasks.length - fresh.length;
      if (duplicates > 0)
        fences.count(
          'startTasks',
          duplicates,
          { instanceId: req.instanceId, epoch: req.epoch },
          `start_tasks for instance ${req.instanceId}: ${duplicates} task attempt(s) already started here`,
        );
      // Nothing new to run: no ProcessorTracker is made for a replay.
      if (req.tasks.length > 0 && fresh.length === 0) return { accepted: 0, duplicates };
      let pt = processorTrackers.get(req.instanceId);
      if (pt && pt.epoch < req.epoch) {
        pt.stop(`superseded by epoch ${req.epoch}`);
        pt = undefined;
      }
      if (pt && pt.epoch > req.epoch) return { accepted: 0 };
      if (!pt && draining) return { accepted: 0 }; // the TaskTracker sends them elsewhere
      if (!pt && req.paramsOmitted) return { accepted: 0, needsParams: true };
      // Forged start_tasks for made-up runs must not pile up ProcessorTrackers (each idles 30 s).
      if (!pt && processorTrackers.size >= MAX_PROCESSOR_TRACKERS)
        throw new HandlerError('BUSY', 'too many ProcessorTrackers here', { retryable: true });
      if (!pt) {
        const created: ProcessorTracker = new ProcessorTracker(
          bus,
          options.app,
          workerId,
          req,
          processors.get(req.processorName),
          req.concurrency,
          log.child({ actor: 'processor-tracker', instanceId: req.instanceId }),
          () => {
            if (processorTrackers.get(req.instanceId) === created)
              processorTrackers.delete(req.instanceId);
          },
          processorCalls,
          options.processorTrackerIdleMs,
        );
        pt = created;
        processorTrackers.set(req.instanceId, created);
      }
      fences.taskEpochs.note(req.instanceId, req.epoch);
      const accepted = pt.enqueue(fresh);
      // Only what the ProcessorTracker took counts as started (a draining one takes none).
      if (accepted === fresh.length)
        for (const t of fresh)
          fences.startedAttempts.note(`${req.instanceId}/${req.epoch}/${t.taskId}`, t.attempt);
      return { accepted, duplicates: duplicates || undefined };
    }),
    bus.handle(routes.pt.stopInstance, address, (req) => {
      const pt = processorTrackers.get(req.instanceId);
      pt?.stop(req.reason);
      return { stopped: pt !== undefined };
    }),
    bus.handle(routes.tt.queryInstanceStatus, address, (req) => {
      const t = trackers.get(req.instanceId);
      // A queued run is this worker's: the server's lost-accept check must find it owned.
      const queued = t ? undefined : heldRun(req.instanceId);
      if (queued)
        return {
          instanceId: req.instanceId,
          epoch: queued.epoch,
          status: 'RUNNING' as const,
          progress: { total: 0, succeeded: 0, failed: 0, running: 0 },
        };
      if (!t)
        throw new HandlerError(
          'UNKNOWN_INSTANCE',
          `no TaskTracker for instance ${req.instanceId} here`,
        );
      const progress = t instanceof HeavyTracker ? t.progress : t.taskProgress;
      return { instanceId: req.instanceId, epoch: t.epoch, status: 'RUNNING' as const, progress };
    }),
    bus.handle(routes.tt.stopInstance, address, (req) => {
      const tracker = trackers.get(req.instanceId);
      const queued = tracker ? undefined : heldRun(req.instanceId);
      const held = tracker ?? queued;
      if (!held) return { stopped: false };
      // Only the run's own epoch stops it: an old or epoch-less stop is a replay.
      if (req.epoch !== held.epoch)
        throw fences.refuse(
          'stopInstance',
          { instanceId: req.instanceId, epoch: req.epoch, current: held.epoch },
          `stop_instance for instance ${req.instanceId} at epoch ${req.epoch ?? 'none'}: its run here is at epoch ${held.epoch}`,
        );
      if (queued) {
        // Never started: nothing to report (every stop the server sends follows its own write).
        queue.remove(req.instanceId);
        timed.remove(req.instanceId);
        log.info({ instanceId: req.instanceId, reason: req.reason }, 'queued run stopped');
        return { stopped: true };
      }
      tracker?.stop(req.reason);
      return { stopped: true };
    }),
  ];
  monitoring.serveStatus({
    statusSubject: workerStatusSubject(options.app, workerId),
    status: () => ({
      app: options.app,
      workerId,
      draining,
      concurrency,
      busy: busy(),
      queuedRuns: queue.size,
      taskTrackers: trackers.size,
      processorTrackers: processorTrackers.size,
      processors: [...processors.keys()],
      /** Fenced messages refused since start (replays, stale epochs, foreign sub-tasks). */
      refused: { ...fences.refused },
    }),
  });
  await nc.flush();
  heartbeat();
  const beat = setInterval(heartbeat, Timing.WORKER_HEARTBEAT_MS);
  const announce = (state: 'joined' | 'left') =>
    publishEvent(
      nc,
      {
        type: 'worker',
        app: options.app,
        workerId,
        state,
        processors: state === 'joined' ? [...processors.keys()] : [],
        at: Date.now(),
      },
      log,
    );
  announce('joined');
  // While this worker was cut off, a server may have found it lost and given
  // its runs to other workers: each run asks at once whether it is still its own.
  // (After a flush: the reply must find this connection's subscriptions back in place.)
  void (async () => {
    for await (const status of nc.status()) {
      // Said once each way: the client retries quietly, and an operator sees the gap in the log.
      if (status.type === 'disconnect') log.warn('NATS connection lost; reconnecting');
      if (status.type !== 'reconnect') continue;
      log.info('NATS reconnected');
      await nc.flush().catch(() => undefined);
      for (const t of trackers.values()) t.reportNow();
    }
  })().catch(() => undefined);
  log.info({ app: options.app, processors: [...processors.keys()] }, 'worker started');
  let metricsServer: MetricsServer | undefined;

  const worker: DroverWorker = {
    workerId,
    async stop() {
      checkAbort.abort();
      draining = true;
      heartbeat(); // tells servers it takes no new work
      // Queued runs never started: back to the server at once, for other workers.
      const handBacks = [...queue.takeAll(), ...timed.takeAll()].map((run) =>
        queuedReports.handBack(run, 'worker shutting down'),
      );
      for (const t of trackers.values()) if (t instanceof HeavyTracker) t.workerLeaving();
      // Running tasks and runs get the grace to finish; what is left then goes
      // back: tasks to their TaskTrackers, runs to the server, for other workers.
      const ptDrains = [...processorTrackers.values()].map((pt) => pt.drain());
      // An operator's grace may exceed what one setTimeout holds.
      const grace = setLongTimeout(() => {
        for (const t of trackers.values()) t.handBack('worker shutting down');
        for (const pt of processorTrackers.values()) pt.stop('worker shutting down');
      }, options.drainGraceMs ?? 30_000);
      await Promise.all([...[...trackers.values()].map((t) => t.done), ...ptDrains, ...handBacks]);
      grace.clear();
      for (const pt of processorTrackers.values()) pt.stop('worker shutting down');
      clearInterval(beat);
      finals.close();
      announce('left');
      await monitoring.stop().catch(() => undefined);
      await Promise.all(handlers.map((h) => h.stop()));
      await executor.close();
      await nc.drain().catch(() => nc.close());
      await metricsServer?.close();
      log.info('worker stopped');
    },
  };
  const refusedLater = (err: WorkerRefusedError) => {
    if (options.onRefused) return options.onRefused(err);
    log.error({ err: err.message }, 'refused; stopping the worker');
    void worker.stop().catch(() => undefined);
  };
  if (options.metricsPort !== undefined) {
    const host = options.metricsHost ?? '127.0.0.1';
    try {
      metricsServer = await startMetricsServer(metrics.registry, options.metricsPort, host);
    } catch (err) {
      // A port taken or a host not here: fail the start, as a bad flag would.
      await worker.stop().catch(() => undefined);
      throw new Error(
        `cannot serve metrics on ${host}:${options.metricsPort}: ${(err as Error).message}`,
      );
    }
    worker.metricsUrl = metricsServer.url;
    log.info({ metrics: `${metricsServer.url}/metrics` }, 'metrics served');
  }
  // A subscription made after the start (e.g. a ProcessorTracker's) denied.
  permissions.denied.catch(refusedLater);
  // Refused later (no server answered at start): the worker cannot get work.
  check.verdict.then(
    () => log.info({ app: options.app }, 'worker accepted'),
    (err: unknown) => {
      if (err instanceof WorkerRefusedError) refusedLater(err);
    },
  );
  return worker;
}
