import {
  type AddressOf,
  ANY_APP,
  appOfSubject,
  HandlerError,
  monotonicMs,
  type Route,
  routes,
} from '@drover/protocol';
import { type Bus, type Handler, type HandlerFn, LogLimiter } from '@drover/transport';
import type pg from 'pg';
import type { Logger } from 'pino';
import { asHandlerError } from '../db/transient-error.js';
import type { RunFacts } from '../dispatch/run-facts.js';
import { RunWorkers } from '../dispatch/run-workers.js';
import type { WorkerRegistry } from '../dispatch/worker-registry.js';
import type { InstanceEvents } from '../lifecycle/instance-events.js';
import { settle } from '../lifecycle/settle.js';
import { appExists } from '../store/app-names.js';
import { handBack, recordProgress } from '../store/instance-transitions.js';
import { getInstance } from '../store/instances.js';
import { insertLogBatch, type LogLine } from '../store/logs.js';
import { resultText, toStorableJson, toStorableText } from '../store/storable-text.js';
import { finalReportsHandler } from './final-reports.js';
import { InstanceOwners } from './instance-owners.js';

/** Subscribes the server's NATS handlers for every app; returns them for draining. */
export function serveServerRoutes(deps: {
  bus: Bus;
  pool: pg.Pool;
  registry: WorkerRegistry;
  events: InstanceEvents;
  facts: RunFacts;
  /** Lines of a run just stored (published as `log` events). */
  onLogs?: (app: string, instanceId: string, lines: LogLine[]) => void;
  log: Logger;
}): Handler[] {
  const { bus, pool, registry, events, facts } = deps;
  const anyApp = { app: ANY_APP };
  const runWorkers = new RunWorkers(pool, registry);
  const owners = new InstanceOwners(pool, facts);

  /**
   * Serves a route whose work needs Postgres: Postgres away or reset is
   * answered with a retryable DATABASE_UNAVAILABLE, so the sender tries again
   * until it is recorded; a bug (a constraint, bad SQL) stays a non-retryable INTERNAL.
   */
  const handleDb = <R extends Route>(route: R, address: AddressOf<R['actor']>, fn: HandlerFn<R>) =>
    bus.handle(route, address, async (request, ctx) => {
      try {
        return await fn(request, ctx);
      } catch (err) {
        throw asHandlerError(err);
      }
    });

  // A heartbeat proves nothing by itself: NATS permissions say which app's
  // workers may publish on its subject, and the registry takes it only from
  // the incarnation holding the worker id with a newer seq. No database work:
  // an ignored (forged, replayed) one costs a map lookup.
  const ignored = new LogLimiter(deps.log.child({ handler: 'worker_heartbeat' }));
  const heartbeat = bus.handle(routes.server.workerHeartbeat, anyApp, (hb, ctx) => {
    if (hb.app !== appOfSubject(ctx.subject)) {
      ignored.warn({ app: hb.app, workerId: hb.workerId }, 'heartbeat for another app ignored');
      return null;
    }
    const refusal = registry.record(hb);
    if (refusal === 'held')
      ignored.warn(
        { app: hb.app, workerId: hb.workerId, ignored: registry.ignored },
        'heartbeat ignored: another live process holds this worker id',
      );
    else if (refusal === 'stale')
      ignored.warn(
        { app: hb.app, workerId: hb.workerId, ignored: registry.ignored },
        'heartbeat ignored: not newer than the last one of its process (a replay?)',
      );
    return null;
  });

  /** Reports count only from workers whose heartbeat the registry holds (retryable: a restarted server learns them within a beat). */
  const requireKnownWorker = (app: string, workerId: string) => {
    if (!registry.get(app, workerId)) {
      throw new HandlerError(
        'UNKNOWN_WORKER',
        `worker ${workerId} has not sent a valid heartbeat yet`,
        { retryable: true },
      );
    }
  };

  const report = handleDb(routes.server.reportInstanceStatus, anyApp, async (req, ctx) => {
    if ((await owners.app(req.instanceId)) !== appOfSubject(ctx.subject)) {
      ctx.refused('no such instance in this app');
      return { accepted: false, stop: true, reason: 'no such instance in this app' };
    }
    requireKnownWorker(appOfSubject(ctx.subject), req.workerId);
    if (req.status === 'RUNNING') {
      const recorded = await recordProgress(pool, req.instanceId, req.epoch, req.progress);
      if (recorded) {
        // First written RUNNING here (its accept still held): announced as an accept is.
        if (recorded.was === 'WAITING_WORKER_RECEIVE') events.changed(recorded.instance);
        const workers = req.wantsWorkers
          ? await runWorkers.eligible(req.instanceId, appOfSubject(ctx.subject))
          : undefined;
        return { accepted: true, stop: false, workers };
      }
      const current = await getInstance(pool, req.instanceId);
      const reason =
        current && current.epoch !== req.epoch
          ? `stale epoch ${req.epoch}, current is ${current.epoch}`
          : `instance is ${current?.status ?? 'gone'}`;
      return { accepted: false, stop: true, reason };
    }
    if (req.status === 'WAITING_DISPATCH') {
      const reason = `handed back by worker ${req.workerId}: ${toStorableText(req.result === undefined ? 'draining' : resultText(req.result))}`;
      const back = await handBack(pool, req.instanceId, req.epoch, reason);
      if (!back) return { accepted: false, stop: true, reason: "not this TaskTracker's run now" };
      events.changed(back);
      return { accepted: true, stop: false };
    }
    if (req.status !== 'SUCCEEDED' && req.status !== 'FAILED' && req.status !== 'STOPPED') {
      return { accepted: false, stop: false, reason: `a TaskTracker cannot report ${req.status}` };
    }
    const settled = await settle(pool, req.instanceId, req.epoch, {
      status: req.status,
      result: req.result === undefined ? undefined : toStorableJson(req.result),
      progress: req.progress,
      nonRetryable: req.status === 'FAILED' && req.nonRetryable === true,
      fromTracker: true,
      contextUpdate: req.status === 'SUCCEEDED' ? req.contextUpdate : undefined,
    });
    if (settled.kind === 'rejected') return { accepted: false, stop: true, reason: settled.reason };
    if (settled.kind !== 'duplicate') {
      if (settled.started) events.changed(settled.started);
      events.changed(settled.instance);
    }
    return { accepted: true, stop: false };
  });

  // Many runs' final reports in one message: the fast path of the block above.
  const finals = handleDb(
    routes.server.reportFinals,
    anyApp,
    finalReportsHandler({ pool, events, owners, requireKnownWorker }),
  );

  const logs = handleDb(routes.server.reportLog, anyApp, async (batch, ctx) => {
    if ((await owners.app(batch.instanceId)) !== appOfSubject(ctx.subject)) {
      ctx.refused('no such instance in this app');
      return { stored: 0 };
    }
    const lines = batch.lines.map((l) => ({ ...l, message: toStorableText(l.message) }));
    const stored = await insertLogBatch(pool, { ...batch, lines });
    if (stored.length > 0) deps.onLogs?.(appOfSubject(ctx.subject), batch.instanceId, stored);
    return { stored: stored.length };
  });

  const cluster = bus.handle(routes.server.queryCluster, anyApp, (_req, ctx) => ({
    workers: registry.alive(appOfSubject(ctx.subject)).map((w) => ({
      workerId: w.workerId,
      version: w.version,
      tags: w.tags,
      lastSeenAt: w.lastSeenAt,
      metrics: w.metrics,
    })),
  }));

  // When each refused incarnation first asked: a holder that beats after that is alive.
  const contenders = new Map<string, number>();
  const refusedWorkers = new LogLimiter(deps.log.child({ handler: 'check_worker' }));
  // Postgres away is a retryable error (via handleDb), not a refusal: the worker asks again.
  const checkWorker = handleDb(routes.server.checkWorker, anyApp, async (req, ctx) => {
    if (req.app !== appOfSubject(ctx.subject) || !(await appExists(pool, req.app))) {
      refusedWorkers.warn(
        { app: req.app, workerId: req.workerId },
        'worker of no such app refused',
      );
      return { accepted: false, reason: `app ${req.app} does not exist` };
    }
    const holder = registry.get(req.app, req.workerId);
    if (!holder || holder.incarnation === req.incarnation || !registry.holds(holder))
      return { accepted: true };
    // Another process holds the id. It is alive once it beats after this one
    // first asked; a holder that stays silent (killed, being restarted) is
    // waited out until it counts as lost.
    if (contenders.size > 10_000) contenders.clear();
    const firstAsked = contenders.get(req.incarnation) ?? monotonicMs();
    contenders.set(req.incarnation, firstAsked);
    if (holder.seenAt <= firstAsked)
      throw new HandlerError(
        'WORKER_ID_HELD',
        `worker id ${req.workerId} of app ${req.app} is held by a process that may have stopped; asking again`,
        { retryable: true },
      );
    refusedWorkers.warn(
      { app: req.app, workerId: req.workerId },
      'worker refused: its worker id is held by another live process',
    );
    return {
      accepted: false,
      reason: `worker id ${req.workerId} of app ${req.app} is held by another live process (give each worker its own --worker-id)`,
    };
  });

  return [heartbeat, report, finals, logs, cluster, checkWorker];
}
