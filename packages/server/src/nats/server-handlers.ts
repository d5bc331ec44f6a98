import {
  type AddressOf,
  ANY_APP,
  appOfSubject,
  HandlerError,
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
import { type AppAuthenticator, AuthBusyError } from '../store/apps.js';
import { handBack, recordProgress } from '../store/instance-transitions.js';
import { getInstance } from '../store/instances.js';
import { insertLogBatch } from '../store/logs.js';
import { toStorableText } from '../store/storable-text.js';
import { InstanceOwners } from './instance-owners.js';

/** Subscribes the server's NATS handlers for every app; returns them for draining. */
export function serveServerRoutes(deps: {
  bus: Bus;
  pool: pg.Pool;
  registry: WorkerRegistry;
  events: InstanceEvents;
  auth: AppAuthenticator;
  facts: RunFacts;
  log: Logger;
}): Handler[] {
  const { bus, pool, registry, events, auth, facts } = deps;
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

  const rejected = new LogLimiter(deps.log.child({ handler: 'worker_heartbeat' }));
  const heartbeat = bus.handle(routes.server.workerHeartbeat, anyApp, async (hb, ctx) => {
    // Secret checks all busy (a flood of wrong secrets): this beat is skipped, not refused.
    const proven =
      hb.app === appOfSubject(ctx.subject) &&
      (await auth.authenticate(hb.app, hb.secret).catch((err: unknown) => {
        if (err instanceof AuthBusyError) return 'busy' as const;
        throw err;
      }));
    if (proven === 'busy') return null;
    if (proven) {
      registry.record(hb);
    } else {
      rejected.warn(
        { app: hb.app, workerId: hb.workerId },
        'heartbeat with a wrong app or secret ignored',
      );
    }
    return null;
  });

  /** Reports count only from workers that proved the app secret (retryable: a restarted server learns them within a beat). */
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
      if (await recordProgress(pool, req.instanceId, req.epoch, req.progress)) {
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
      const reason = `handed back by worker ${req.workerId}: ${toStorableText(req.result ?? 'draining')}`;
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
      result: req.result === undefined ? undefined : toStorableText(req.result),
      progress: req.progress,
      nonRetryable: req.status === 'FAILED' && req.nonRetryable === true,
    });
    if (settled.kind === 'rejected') return { accepted: false, stop: true, reason: settled.reason };
    if (settled.kind !== 'duplicate') events.changed(settled.instance);
    return { accepted: true, stop: false };
  });

  const logs = handleDb(routes.server.reportLog, anyApp, async (batch, ctx) => {
    if ((await owners.app(batch.instanceId)) !== appOfSubject(ctx.subject)) {
      ctx.refused('no such instance in this app');
      return { stored: 0 };
    }
    const lines = batch.lines.map((l) => ({ ...l, message: toStorableText(l.message) }));
    return { stored: await insertLogBatch(pool, { ...batch, lines }) };
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

  // Postgres away is a retryable error (via handleDb), not a refusal: the worker asks again.
  const checkSecret = handleDb(routes.server.checkWorkerSecret, anyApp, async (req, ctx) => {
    const proven =
      req.app === appOfSubject(ctx.subject) &&
      (await auth.authenticate(req.app, req.secret).catch((err: unknown) => {
        // Busy is not a refusal: the worker asks again.
        if (err instanceof AuthBusyError)
          throw new HandlerError('BUSY', err.message, { retryable: true, cause: err });
        throw err;
      }));
    if (proven) return { accepted: true };
    rejected.warn(
      { app: req.app, workerId: req.workerId },
      'worker with a wrong app or secret refused',
    );
    return {
      accepted: false,
      reason: `app ${req.app} does not exist or its secret is not this one`,
    };
  });

  return [heartbeat, report, logs, cluster, checkSecret];
}
