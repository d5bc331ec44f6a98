import type { NatsConnection } from '@nats-io/nats-core';
import { Counter, type Registry } from 'prom-client';
import type { RouteRejection, RouteStats } from './route-stats.js';

/** Rejection kinds as metric label values. */
const KINDS: Record<RouteRejection, string> = {
  badMsgpack: 'bad_msgpack',
  invalid: 'invalid',
  shed: 'shed',
  refused: 'refused',
  failed: 'failed',
};

export interface BusMetrics {
  /** Counts the reconnects of `nc` until it closes (call once per connection). */
  watch(nc: NatsConnection): void;
}

/**
 * Registers what every Drover process counts about its bus: each NATS
 * handler's messages and rejections (read from `routes` at scrape, so the
 * handlers pay nothing more than the counts they keep anyway) and NATS
 * reconnects.
 */
export function registerBusMetrics(
  registry: Registry,
  routes: () => RouteStats | undefined,
): BusMetrics {
  new Counter({
    name: 'drover_handler_requests_total',
    help: 'Messages a NATS handler received (in-process asks included), by handler',
    labelNames: ['handler'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { handler, counters } of routes()?.entries() ?? [])
        this.inc({ handler }, counters.requests);
    },
  });
  new Counter({
    name: 'drover_handler_errors_total',
    help: 'Messages a NATS handler rejected, by handler and kind (bad_msgpack, invalid, shed, refused, failed)',
    labelNames: ['handler', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { handler, counters } of routes()?.entries() ?? [])
        for (const [key, kind] of Object.entries(KINDS) as [RouteRejection, string][])
          if (counters[key] > 0) this.inc({ handler, kind }, counters[key]);
    },
  });
  const reconnects = new Counter({
    name: 'drover_nats_reconnects_total',
    help: 'Times the NATS connection was re-established after a disconnect',
    registers: [registry],
  });
  reconnects.inc(0);
  return {
    watch(nc) {
      void (async () => {
        for await (const status of nc.status()) if (status.type === 'reconnect') reconnects.inc();
      })().catch(() => undefined);
    },
  };
}
