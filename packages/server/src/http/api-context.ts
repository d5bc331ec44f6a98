import type pg from 'pg';
import type { DispatchTimers } from '../dispatch/dispatch-timers.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { WorkerRegistry } from '../dispatch/worker-registry.js';
import type { InstanceEvents } from '../lifecycle/instance-events.js';
import type { RunIntake } from '../lifecycle/run-intake.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { WorkerKeys } from '../nats-auth/worker-keys.js';
import type { DbClock } from '../scheduling/db-clock.js';
import type { Scheduler } from '../scheduling/scheduler.js';
import type { AppAuthenticator } from '../store/apps.js';
import type { JobCache } from '../store/job-cache.js';
import { ApiError } from './api-error.js';

/** What the API routes work with, available once the server is ready. */
export interface Core {
  pool: pg.Pool;
  auth: AppAuthenticator;
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  timers: DispatchTimers;
  /** New API runs and retries: group-committed, claimed at insert where it can. */
  intake: RunIntake;
  /** Jobs as last read, for adding runs (each checked against the job's version). */
  jobs: JobCache;
  scheduler: Scheduler;
  events: InstanceEvents;
  /** The database's clock: for times stored and compared with stored ones. */
  clock: DbClock;
  /** Apps' NATS worker credentials (and the nats-server authorization they go into). */
  workerKeys: WorkerKeys;
}

export interface Readiness {
  /** NATS reachable now. */
  nats: boolean;
  /** Postgres reachable now. */
  database: boolean;
  /** Migrated and serving: set once, after both were first reachable. */
  started: boolean;
}

export const isReady = (r: Readiness): boolean => r.nats && r.database && r.started;

export interface ApiContext {
  adminToken?: string;
  /** `GET /metrics`: answered before the server is ready too. */
  metrics?: Pick<ServerMetrics, 'text' | 'contentType'>;
  readiness(): Readiness;
  /** The core, or a 503 while NATS or Postgres is not connected yet. */
  core(): Core;
}

export function unavailable(readiness: Readiness): ApiError {
  const missing = [!readiness.database && 'Postgres', !readiness.nats && 'NATS']
    .filter(Boolean)
    .join(' and ');
  return new ApiError(
    503,
    'UNAVAILABLE',
    // Not "not reachable": a refused certificate keeps it waiting too (the log says which).
    `server not ready: ${missing ? `${missing} not connected yet (the server's log says why)` : 'still starting'}`,
  );
}
