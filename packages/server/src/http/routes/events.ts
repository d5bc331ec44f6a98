import { AppName, type DroverEvent } from '@drover/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type ApiContext, unavailable } from '../api-context.js';
import { ApiError } from '../api-error.js';
import { authenticateApp } from '../auth.js';
import {
  EVENT_BACKLOG_BYTES,
  EVENT_PING_MS,
  type EventStreams,
  MAX_EVENT_STREAMS,
} from '../event-streams.js';
import { ErrorView, Id } from '../views.js';

/** The SSE `event:` name of each event type. */
const SSE_TYPES = ['worker', 'instance', 'progress', 'log', 'workflow-run', 'workflow-node'];

/** Whether `event` is about run `instanceId` (worker and workflow-run events are about none). */
function aboutRun(event: DroverEvent, instanceId: string): boolean {
  switch (event.type) {
    case 'instance':
    case 'progress':
    case 'log':
    case 'workflow-node':
      return event.instanceId === instanceId;
    default:
      return false;
  }
}

export function eventRoutes(ctx: ApiContext, streams: EventStreams): FastifyPluginAsyncZod {
  return async (api) => {
    api.get(
      '/apps/:app/events',
      {
        schema: {
          tags: ['events'],
          operationId: 'streamEvents',
          summary: `The app's lifecycle events as Server-Sent Events (\`event: <type>\`, \`data: <JSON>\`; types ${SSE_TYPES.join(', ')}), live until the client goes; \`: ping\` every ${EVENT_PING_MS / 1000} s; at most ${MAX_EVENT_STREAMS} streams per server (429 beyond)`,
          params: z.object({ app: AppName }),
          querystring: z.object({
            /** Only this run's events (instance, progress, log, its workflow node). */
            instanceId: Id.optional(),
          }),
          response: {
            200: {
              description: 'One event per message, as the NATS event schemas say',
              content: { 'text/event-stream': { schema: z.string() } },
            },
            400: ErrorView,
            401: ErrorView,
            429: ErrorView,
            503: ErrorView,
          },
        },
      },
      async (request, reply) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        if (streams.full)
          throw new ApiError(
            429,
            'TOO_MANY_REQUESTS',
            `this server holds ${MAX_EVENT_STREAMS} event streams already; try another server or later`,
            undefined,
            { 'retry-after': '5' },
          );
        const { instanceId } = request.query;
        const raw = reply.raw;
        const stream = streams.start(
          app.name,
          (event) => {
            if (event === null) raw.write(': ping\n\n');
            else if (instanceId === undefined || aboutRun(event, instanceId))
              raw.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
            // A client that stopped reading: drop it rather than hold its backlog.
            if (raw.writableLength > EVENT_BACKLOG_BYTES) raw.destroy();
          },
          () => raw.end(),
        );
        if (!stream) throw unavailable({ ...ctx.readiness(), nats: false });
        // From here the response is ours: fastify neither serializes nor ends it.
        reply.hijack();
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          // nginx and the like pass each event on at once instead of buffering.
          'x-accel-buffering': 'no',
        });
        raw.write(': connected\n\n');
        raw.on('close', () => stream.close());
        // Gone before we listened: 'close' came already.
        if (request.raw.socket?.destroyed) stream.close();
      },
    );
  };
}
