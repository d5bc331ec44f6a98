import type { NatsConnection } from '@nats-io/nats-core';

export interface EndpointStats {
  name: string;
  subject: string;
  num_requests: number;
  num_errors: number;
  /** Nanoseconds spent handling them. */
  processing_time: number;
  last_error?: string;
  data?: { route?: Record<string, number | string> };
}

export interface ServiceStats {
  name: string;
  metadata: Record<string, string>;
  endpoints: EndpointStats[];
}

/** `$SRV.STATS.<name>` from each of `count` processes of that service (waits until all answered). */
export async function serviceStats(
  nc: NatsConnection,
  name: string,
  count: number,
): Promise<ServiceStats[]> {
  const replies = await nc.requestMany(`$SRV.STATS.${name}`, undefined, {
    strategy: 'count',
    maxMessages: count,
    maxWait: 10_000,
  });
  const stats: ServiceStats[] = [];
  for await (const reply of replies) stats.push(reply.json<ServiceStats>());
  return stats;
}

/** Errors counted per endpoint name (e.g. `report_instance_status`), summed over `stats`. */
export function errorsByEndpoint(stats: ServiceStats[]): Record<string, number> {
  const errors: Record<string, number> = {};
  for (const s of stats)
    for (const e of s.endpoints) errors[e.name] = (errors[e.name] ?? 0) + e.num_errors;
  return errors;
}
