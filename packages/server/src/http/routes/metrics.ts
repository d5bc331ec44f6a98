import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from '../api-context.js';

/** `GET /metrics`: Prometheus text format, no app secret (like /healthz); see docs/metrics.md. */
export function metricsRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (api) => {
    const metrics = ctx.metrics;
    if (!metrics) return;
    api.get(
      '/metrics',
      {
        schema: {
          operationId: 'getMetrics',
          tags: ['monitoring'],
          summary: 'Prometheus metrics of this server (text exposition format)',
          security: [],
        },
      },
      async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()),
    );
  };
}
