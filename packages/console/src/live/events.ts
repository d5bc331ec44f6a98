import { DroverEvent } from '@drover/protocol';

/** An event of the server's stream: instance, worker, progress, log, workflow-run, workflow-node. */
export type ConsoleEvent = DroverEvent;

/** Validates one event's JSON data (the stream's edge); undefined for what the console does not know. */
export function parseEvent(data: string): ConsoleEvent | undefined {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return undefined;
  }
  const parsed = DroverEvent.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}
