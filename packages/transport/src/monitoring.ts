import type { NatsConnection } from '@nats-io/nats-core';
import { type Service, Svcm } from '@nats-io/services';

export interface MonitoringOptions {
  /** Service name, e.g. `drover-server` or `drover-worker` (`nats micro ls` groups by it). */
  name: string;
  version: string;
  description: string;
  metadata: Record<string, string>;
  /** Subject of the `status` endpoint: answers with `status()` as JSON. */
  statusSubject: string;
  status: () => Record<string, unknown>;
}

const text = new TextEncoder();

/**
 * Makes this process answer the NATS services protocol (`$SRV.PING`,
 * `$SRV.INFO`, `$SRV.STATS`), so `nats micro ls|info|stats` list it; its
 * `status` endpoint and STATS data carry a live snapshot.
 */
export async function serveMonitoring(
  nc: NatsConnection,
  options: MonitoringOptions,
): Promise<{ stop(): Promise<void> }> {
  const service: Service = await new Svcm(nc).add({
    name: options.name,
    version: options.version,
    description: options.description,
    metadata: options.metadata,
    // Every process answers, not one per queue group.
    queue: '',
    statsHandler: async () => options.status(),
  });
  service.addEndpoint('status', {
    subject: options.statusSubject,
    handler: (_err, msg) => {
      msg.respond(text.encode(JSON.stringify(options.status())));
    },
  });
  return {
    async stop() {
      await service.stop();
    },
  };
}
