import { DroverEvent } from '@drover/protocol';
import { DroverUnavailableError } from './errors.js';
import { type FetchLike, failure, parseJson } from './http.js';

export interface EventsOptions {
  /** Only this run's events (instance, progress, log, its workflow node). */
  instanceId?: string;
  /** Ends the stream: the iteration rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** One message of a Server-Sent Event stream (comments, like `: ping`, carry no event). */
function sseEvent(block: string): { event?: string; data?: string } {
  let event: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    // "The value is everything after the colon, less one leading space."
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return { event, data: data.length ? data.join('\n') : undefined };
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
  let buffer = '';
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
      buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, '\n');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const message = sseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (message.data === undefined) continue;
        const parsed = DroverEvent.safeParse(parseJson(message.data));
        if (parsed.success) yield parsed.data;
      }
    }
  } finally {
    // A caller that stops iterating (break, return) closes the connection too.
    await reader.cancel().catch(() => undefined);
  }
}
