import { DROVER_VERSION, serverStatusSubject } from '@drover/protocol';
import { Bus, connectNats, type Handler, publicKeyOfSeed } from '@drover/transport';
import type { NatsConnection } from '@nats-io/nats-core';
import type { FastifyInstance } from 'fastify';
import pRetry from 'p-retry';
import type { Logger } from 'pino';
import { ServerConfig, type ServerConfigInput } from './config.js';
import { errForLog } from './db/error-for-log.js';
import { migrate, NewerSchemaError } from './db/migrate.js';
import { createPool, waitForDatabase } from './db/pool.js';
import { DispatchTimers } from './dispatch/dispatch-timers.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { RunFacts } from './dispatch/run-facts.js';
import { WorkerRegistry } from './dispatch/worker-registry.js';
import type { ApiContext, Core, Readiness } from './http/api-context.js';
import { isReady, unavailable } from './http/api-context.js';
import { buildApi } from './http/build-api.js';
import { EventStreams } from './http/event-streams.js';
import { EventPublisher } from './lifecycle/event-publisher.js';
import { InstanceEvents } from './lifecycle/instance-events.js';
import { LostWorkers } from './lifecycle/lost-workers.js';
import { RunIntake } from './lifecycle/run-intake.js';
import { Sweeper } from './lifecycle/sweeper.js';
import { type ServerMetricSources, ServerMetrics } from './metrics/server-metrics.js';
import { serveServerRoutes } from './nats/server-handlers.js';
import { NatsAuthWriter } from './nats-auth/nats-auth-writer.js';
import { WorkerKeys } from './nats-auth/worker-keys.js';
import { DbClock } from './scheduling/db-clock.js';
import { Scheduler } from './scheduling/scheduler.js';
import { AppAuthenticator } from './store/apps.js';
import { JobCache } from './store/job-cache.js';
import { registerKey } from './store/nats-keys.js';
import { countWaitingRuns } from './store/waiting-runs.js';
import { WorkflowAdvancer } from './workflows/workflow-advancer.js';
import { attachWorkflowHooks, type EngineHooks } from './workflows/workflow-engine.js';
import { WorkflowEvents } from './workflows/workflow-events.js';

const HEALTH_CHECK_MS = 2_000;

export interface DroverServer {
  /** Base URL of the HTTP API. */
  url: string;
  config: ServerConfig;
  /** Resolves once NATS and Postgres are reachable and the server works. */
  ready: Promise<void>;
  readiness(): Readiness;
  /** Drains: stops scheduling and handlers, waits for in-flight work, closes connections. */
  stop(): Promise<void>;
}

/**
 * Starts a server. The HTTP API (with /healthz and /readyz) is up at once;
 * NATS and Postgres are waited for with backoff, so a server started before
 * them does not crash-loop.
 */
export async function startServer(
  input: ServerConfigInput,
  rootLog: Logger,
): Promise<DroverServer> {
  const config = ServerConfig.parse(input);
  // Every line of the server: a Postgres error is logged by its names, not its detail.
  const log = rootLog.child({ serverId: config.serverId }, { serializers: { err: errForLog } });
  const abort = new AbortController();
  const readiness: Readiness = { nats: false, database: false, started: false };
  const pool = createPool(config.databaseUrl, config.databasePoolSize, log);
  const clock = new DbClock();
  let core: Core | undefined;
  let nc: NatsConnection | undefined;
  let parts:
    | {
        scheduler: Scheduler;
        sweeper: Sweeper;
        lostWorkers: LostWorkers;
        workflows: WorkflowAdvancer;
        workflowHooks: EngineHooks;
        timers: DispatchTimers;
        intake: RunIntake;
        dispatcher: Dispatcher;
        handlers: Handler[];
        publisher: EventPublisher;
        monitoring: { stop(): Promise<void> };
      }
    | undefined;
  let healthTimer: NodeJS.Timeout | undefined;
  // Scraped from the start; what needs NATS and Postgres comes once they are there.
  let metricSources: ServerMetricSources | undefined;
  const metrics = new ServerMetrics(() => metricSources);

  const ctx: ApiContext = {
    adminToken: config.adminToken,
    metrics,
    readiness: () => ({ ...readiness }),
    core: () => {
      if (!core) throw unavailable(readiness);
      return core;
    },
  };
  const eventStreams = new EventStreams(() => nc, log.child({ actor: 'event-streams' }));
  const api: FastifyInstance = await buildApi(ctx, log, {
    listenHost: config.httpHost,
    allowedHosts: config.httpAllowedHosts,
    consoleDir: config.consoleDir,
    eventStreams,
  });
  const address = await api.listen({ host: config.httpHost, port: config.httpPort });

  const watchNats = async (conn: NatsConnection) => {
    for await (const status of conn.status()) {
      if (status.type === 'disconnect') {
        readiness.nats = false;
        log.warn('NATS connection lost; reconnecting');
      }
      if (status.type === 'reconnect') {
        readiness.nats = true;
        log.info('NATS reconnected');
      }
    }
  };

  const checkDatabase = () => {
    pool
      .query('SELECT 1')
      .then(
        () => {
          readiness.database = true;
        },
        () => {
          readiness.database = false;
        },
      )
      .finally(() => {
        if (!abort.signal.aborted) healthTimer = setTimeout(checkDatabase, HEALTH_CHECK_MS);
      });
  };

  const natsAuth = config.natsAuth
    ? new NatsAuthWriter(pool, config.natsAuth, log.child({ actor: 'nats-auth' }))
    : undefined;

  /** Puts this server's key (and the monitors') into nats-server's authorization. */
  const authorizeSelf = async (writer: NatsAuthWriter, seed: Uint8Array) => {
    await pRetry(
      async () => {
        await registerKey(pool, publicKeyOfSeed(seed), 'server');
        for (const key of config.natsMonitorKeys) await registerKey(pool, key, 'monitor');
        await writer.sync();
      },
      {
        retries: Number.POSITIVE_INFINITY,
        maxTimeout: 5_000,
        randomize: true,
        signal: abort.signal,
        onFailedAttempt: ({ error }) =>
          log.warn(
            { reason: error.message },
            'could not write the NATS authorization yet, retrying',
          ),
      },
    );
  };

  const start = async () => {
    const database = (async () => {
      await waitForDatabase(pool, log, abort.signal);
      readiness.database = true;
      healthTimer = setTimeout(checkDatabase, HEALTH_CHECK_MS);
      // A migration (or the first clock reading) can fail while Postgres restarts: retry it too.
      await pRetry(
        async () => {
          await migrate(pool, log);
          await clock.sync(pool);
        },
        {
          retries: Number.POSITIVE_INFINITY,
          maxTimeout: 5_000,
          randomize: true,
          signal: abort.signal,
          // A schema from a newer Drover stays newer: say so instead of retrying.
          shouldRetry: ({ error }) => !(error instanceof NewerSchemaError),
        },
      );
    })();
    // With a managed authorization, NATS lets this server in only once its own key is written.
    const seed = config.natsNkeySeed;
    const natsAllowed =
      natsAuth && seed ? database.then(() => authorizeSelf(natsAuth, seed)) : Promise.resolve();
    // Each dependency is reported as soon as it is reachable, not only once both are.
    const [conn] = await Promise.all([
      natsAllowed
        .then(() =>
          connectNats({
            servers: config.natsUrl,
            name: config.serverId,
            user: config.natsUser,
            pass: config.natsPass,
            nkeySeed: config.natsNkeySeed,
            insecureNats: config.insecureNats,
            log,
            signal: abort.signal,
          }),
        )
        .then((connected) => {
          nc = connected; // stop() drains it even if Postgres never came
          readiness.nats = true;
          metrics.watch(connected);
          void watchNats(connected).catch(() => undefined);
          return connected;
        }),
      database,
    ]);
    nc = conn;
    if (abort.signal.aborted) return;
    const bus = new Bus(conn, log.child({ actor: 'bus' }));
    const registry = new WorkerRegistry(config.workerDeadMs);
    const publisher = new EventPublisher(conn, pool, registry, log.child({ actor: 'events' }));
    const events = new InstanceEvents();
    const facts = new RunFacts();
    const dispatcher = new Dispatcher(
      pool,
      bus,
      registry,
      log.child({ actor: 'dispatcher' }),
      facts,
      config.unknownProcessorGraceMs,
      clock,
      (instance) => {
        metrics.changed(instance);
        publisher.instance(instance);
      },
      (instance) => events.changed(instance),
      abort.signal,
    );
    const timers = new DispatchTimers(dispatcher, config.dispatchLeadMs);
    const intake = new RunIntake(
      pool,
      dispatcher,
      timers,
      log.child({ actor: 'run-intake' }),
      (jobs) => metrics.runsCreated(jobs),
    );
    const scheduler = new Scheduler(
      pool,
      timers,
      log.child({ actor: 'scheduler' }),
      {
        scanIntervalMs: config.scanIntervalMs,
        lookaheadMs: config.lookaheadMs,
      },
      clock,
      (jobs) => metrics.runsCreated(jobs),
    );
    const sweeper = new Sweeper(pool, dispatcher, events, log.child({ actor: 'sweeper' }), {
      intervalMs: config.sweepIntervalMs,
      acceptTimeoutMs: config.acceptTimeoutMs,
      silentMs: config.silentMs,
      waitingGiveUpMs: config.waitingGiveUpMs,
      retentionMs: config.retentionMs,
    });
    const lostWorkers = new LostWorkers(
      pool,
      bus,
      registry,
      events,
      log.child({ actor: 'lost-workers' }),
      {
        intervalMs: config.sweepIntervalMs / 2,
        silentMs: config.lostWorkerSilentMs,
        redispatchLimit: config.lostWorkerRedispatchLimit,
      },
    );
    // A retry waits out its backoff; a finished run may free a concurrency slot for a queued one.
    // A retry or hand-back (WAITING_DISPATCH) frees its slot too, and is armed for its own turn.
    events.onChange((instance) => {
      // RUNNING frees nothing and arms nothing; its run's facts are needed at its end.
      if (instance.status === 'RUNNING') return;
      const limit = facts.get(instance.id)?.concurrencyLimit;
      if (instance.status === 'WAITING_DISPATCH')
        timers.arm(instance.id, instance.nextDispatchAt - clock.now());
      else facts.forget(instance.id);
      if (limit === 0) return; // no concurrency limit: nobody waits for this slot
      void dispatcher.startQueued(instance.jobId);
    });
    events.onChange((instance) => publisher.instance(instance));
    events.onChange((instance) => dispatcher.instanceChanged(instance));
    const workflowEvents = new WorkflowEvents(conn, pool, log.child({ actor: 'workflow-events' }));
    const workflows = new WorkflowAdvancer(
      pool,
      intake,
      dispatcher,
      events,
      workflowEvents,
      log.child({ actor: 'workflow-advancer' }),
      config.sweepIntervalMs,
      () => clock.now(),
    );
    // A workflow node's run ended here: its node event, and its successors.
    events.onChange((instance) => workflows.instanceChanged(instance));
    const workflowHooks = {
      kick: () => workflows.kick(),
      runChanged: (runId: string) => workflowEvents.runById(runId),
    };
    attachWorkflowHooks(pool, workflowHooks);
    events.onChange((instance) => metrics.changed(instance));
    metricSources = {
      waitingRuns: () => countWaitingRuns(pool),
      workersAlive: () => registry.aliveCount(),
      routeStats: () => bus.routeStats,
      eventStreams: () => eventStreams.size,
    };
    registry.onJoined((worker) => {
      pool
        .query(
          `UPDATE instances SET next_dispatch_at = now() WHERE status = 'WAITING_WORKER'
           AND app_id = (SELECT id FROM apps WHERE name = $1)`,
          [worker.app],
        )
        .then(
          () => scheduler.poke(),
          (err: Error) => log.warn({ err: err.message }, 'could not wake waiting runs'),
        );
    });
    // The service first: route handlers are its endpoints, so `$SRV.STATS` counts their errors.
    const monitoring = await bus.startMonitoring({
      name: 'drover-server',
      version: DROVER_VERSION,
      description: 'Drover server: schedules jobs, dispatches runs, keeps their lifecycle',
      metadata: { serverId: config.serverId, http: address },
    });
    const handlers = serveServerRoutes({
      bus,
      pool,
      registry,
      events,
      facts,
      onLogs: (app, instanceId, lines) => publisher.logs(app, instanceId, lines),
      log,
    });
    await conn.flush();
    monitoring.serveStatus({
      statusSubject: serverStatusSubject(config.serverId),
      status: () => ({
        serverId: config.serverId,
        http: address,
        ready: isReady(readiness),
        workersAlive: registry.aliveCount(),
        /** Heartbeats ignored: a stale seq (replay), or a worker id another live process holds. */
        heartbeatsIgnored: { ...registry.ignored },
        uptimeMs: Math.round(process.uptime() * 1000),
      }),
    });
    publisher.start();
    parts = {
      scheduler,
      sweeper,
      lostWorkers,
      workflows,
      workflowHooks,
      timers,
      intake,
      dispatcher,
      handlers,
      publisher,
      monitoring,
    };
    core = {
      pool,
      auth: new AppAuthenticator(pool),
      registry,
      dispatcher,
      timers,
      intake,
      jobs: new JobCache(pool),
      scheduler,
      events,
      clock,
      workerKeys: new WorkerKeys(
        pool,
        config.natsUrl,
        natsAuth,
        log.child({ actor: 'worker-keys' }),
      ),
    };
    readiness.started = true;
    scheduler.start();
    sweeper.start();
    lostWorkers.start();
    workflows.start();
    log.info({ http: address }, 'server ready');
  };

  const ready = start();
  ready.catch((err: unknown) => {
    if (!abort.signal.aborted) log.error({ err }, 'server failed to start');
  });

  return {
    url: address,
    config,
    ready,
    readiness: ctx.readiness,
    async stop() {
      abort.abort();
      clearTimeout(healthTimer);
      await ready.catch(() => undefined);
      if (parts) {
        parts.publisher.stop();
        await parts.monitoring.stop().catch(() => undefined);
        attachWorkflowHooks(pool, parts.workflowHooks, false);
        await Promise.all([
          parts.scheduler.stop(),
          parts.sweeper.stop(),
          parts.lostWorkers.stop(),
          parts.workflows.stop(),
        ]);
        await Promise.all(parts.handlers.map((h) => h.stop()));
        await parts.intake.close();
        await parts.timers.close();
        // Last: dispatches closed above may have had accepts answered meanwhile.
        await parts.dispatcher.close();
      }
      await api.close();
      await nc?.drain().catch(() => nc?.close());
      await pool.end();
      log.info('server stopped');
    },
  };
}
