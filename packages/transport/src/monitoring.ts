import type { NatsConnection } from '@nats-io/nats-core';
import { type Endpoint, type Service, Svcm } from '@nats-io/services';
import type { Subscribe } from './handle.js';
import type { RouteCounters, RouteStats } from './route-stats.js';

export interface ServiceIdentity {
  /** Service name, e.g. `drover-server` or `drover-worker` (`nats micro ls` groups by it). */
  name: string;
  version: string;
  description: string;
  metadata: Record<string, string>;
}

export interface MonitoringOptions extends ServiceIdentity {
  /** Subject of the `status` endpoint: answers with `status()` as JSON. */
  statusSubject: string;
  status: () => Record<string, unknown>;
}

export interface Monitoring {
  /** Delivers a route's messages through a service endpoint, so `$SRV.STATS` lists and counts it. */
  subscribe: Subscribe;
  /** Adds the `status` endpoint; its snapshot is also the STATS data of every endpoint. */
  serveStatus(options: Pick<MonitoringOptions, 'statusSubject' | 'status'>): void;
  stop(): Promise<void>;
}

const text = new TextEncoder();

/** The per-endpoint stats object of @nats-io/services (pinned version), which `$SRV.STATS` answers. */
interface LibraryStats {
  num_requests: number;
  num_errors: number;
  processing_time: number;
  average_processing_time: number;
  last_error?: string;
}

/**
 * The library counts a request when its callback returns (before our handler
 * ran, and not at all for an in-process ask) and an error only when the
 * callback throws: our own counts replace its numbers.
 */
function libraryStats(endpoint: Endpoint): LibraryStats | undefined {
  const stats: unknown = (endpoint as { stats?: unknown }).stats;
  if (typeof stats !== 'object' || stats === null) return undefined;
  const s = stats as Partial<LibraryStats>;
  return typeof s.num_requests === 'number' && typeof s.num_errors === 'number'
    ? (stats as LibraryStats)
    : undefined;
}

function copyCounters(stats: LibraryStats, counters: RouteCounters): void {
  stats.num_requests = counters.requests;
  stats.num_errors = counters.errors;
  stats.last_error = counters.lastError;
  stats.processing_time = counters.processingNs;
  stats.average_processing_time = counters.requests
    ? Math.round(counters.processingNs / counters.requests)
    : 0;
}

/**
 * Makes this process answer the NATS services protocol (`$SRV.PING`,
 * `$SRV.INFO`, `$SRV.STATS`), so `nats micro ls|info|stats` list it. Route
 * handlers subscribed through it are its endpoints: STATS shows, per route,
 * requests (in-process asks included), processing time and errors (bad msgpack,
 * invalid, shed, refused, failed).
 */
export async function startMonitoring(
  nc: NatsConnection,
  identity: ServiceIdentity,
  routes: RouteStats,
): Promise<Monitoring> {
  let status: () => Record<string, unknown> = () => ({});
  const service: Service = await new Svcm(nc).add({
    ...identity,
    // Every process answers, not one per queue group.
    queue: '',
    statsHandler: async (endpoint) => {
      const counters: RouteCounters | undefined = routes.get(endpoint.subject);
      const stats = libraryStats(endpoint);
      if (counters && stats) copyCounters(stats, counters);
      return counters ? { ...status(), route: counters } : status();
    },
  });
  return {
    subscribe: (name, subject, queue, onMessage) => {
      service.addEndpoint(name, {
        subject,
        // '' falls back to the service's queue (none): every subscriber gets the message.
        queue: queue ?? '',
        handler: (err, msg) => {
          if (!err) onMessage(msg);
        },
      });
      // The service owns the subscription; it ends with the service.
      return { stop: async () => undefined };
    },
    serveStatus(options) {
      status = options.status;
      service.addEndpoint('status', {
        subject: options.statusSubject,
        handler: (_err, msg) => {
          msg.respond(text.encode(JSON.stringify(status())));
        },
      });
    },
    async stop() {
      await service.stop();
    },
  };
}
