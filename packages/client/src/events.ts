import { DroverEvent } from '@drover/protocol';
import { DroverUnavailableError } from './errors.js';
import { type FetchLike, failure, parseJson } from './http.js';
import { SseParser } from './sse-parser.js';

export interface EventsOptions {
  /** Only this run's events (instance, progress, log, its workflow node). */
  instanceId?: string;
  /** Ends the stream: the iteration rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * The events of `GET <baseUrl>/api/v1<path>` (an app's `/events`; the base may
 * be '' in a page of the same origin), parsed and validated, as
 * they arrive. fetch and a stream reader, not EventSource: the token goes in a
 * header, never the URL. An event this client does not know (a newer server)
 * is skipped. Ends when the server ends the stream.
 */
export async function* readEvents(
  fetchFn: FetchLike,
  baseUrl: string,
  path: string,
  secret: string | undefined,
  options: EventsOptions,
): AsyncGenerator<DroverEvent> {
  const { signal } = options;
  const url = `${baseUrl}/api/v1${path}`;
  let res: Response;
  try {
    res = await fetchFn(url, {
      method: 'GET',
      headers: {
        accept: 'text/event-stream',
        ...(secret ? { authorization: `Bearer ${secret}` } : {}),
      },
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new DroverUnavailableError(baseUrl, (err as Error).message, { cause: err });
  }
  if (!res.ok || !res.body) {
    const text = await res.text();
    throw failure(res.status, text ? parseJson(text) : null, 'GET', path);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        throw new DroverUnavailableError(baseUrl, `event stream broke: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (chunk.done) return;
      for (const message of parser.push(decoder.decode(chunk.value, { stream: true }))) {
        const parsed = DroverEvent.safeParse(parseJson(message.data));
        if (parsed.success) yield parsed.data;
      }
    }
  } finally {
    // A caller that stops iterating (break, return) closes the connection too.
    await reader.cancel().catch(() => undefined);
  }
}
