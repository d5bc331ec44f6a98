import { apiViews, DroverEvent } from '@drover/protocol';
import { z } from 'zod/v4';

/**
 * A batch of a run's online log lines that a server stored (design-16: the
 * server publishes it on `drover.<app>.events.log`). Kept here, not in
 * @drover/protocol, until the server's schema is there: the fields the
 * console reads are the same.
 */
export const LogEvent = z.object({
  type: z.literal('log'),
  instanceId: z.string(),
  lines: z.array(apiViews.LogLineView),
});
export type LogEvent = z.output<typeof LogEvent>;

export type ConsoleEvent = DroverEvent | LogEvent;

/** Validates one event's JSON data (the stream's edge); undefined for what the console does not know. */
export function parseEvent(data: string): ConsoleEvent | undefined {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return undefined;
  }
  const type = (json as { type?: unknown } | null)?.type;
  const parsed = type === 'log' ? LogEvent.safeParse(json) : DroverEvent.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}
