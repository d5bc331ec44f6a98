/** One message of a Server-Sent Event stream: an event, or a comment line (`: ping`). */
export interface SseMessage {
  event?: string;
  data?: string;
  comment?: string;
}

/**
 * A test's Server-Sent Event stream: every message kept, waited for by
 * predicate (the stream is the event: no polling).
 */
export class SseStream {
  readonly messages: SseMessage[] = [];
  private readonly waiters = new Set<() => void>();
  private ended = false;

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {}

  /** Opens `url`; a non-200 answer is returned as is, its body unread. */
  static async open(url: string, token?: string): Promise<SseStream> {
    const abort = new AbortController();
    const response = await fetch(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: abort.signal,
    });
    const stream = new SseStream(response, abort);
    if (response.status === 200) void stream.pump();
    return stream;
  }

  private async pump(): Promise<void> {
    const body = this.response.body;
    if (!body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          this.messages.push(parse(buffer.slice(0, end)));
          buffer = buffer.slice(end + 2);
        }
        for (const wake of [...this.waiters]) wake();
      }
    } catch {
      // Aborted by close(): the end of the stream.
    }
    this.ended = true;
    for (const wake of [...this.waiters]) wake();
  }

  /** The first message (seen or to come) that satisfies `match`. */
  next(match: (m: SseMessage) => boolean, timeoutMs = 10_000): Promise<SseMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(`no such message in ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`),
        );
      }, timeoutMs);
      const check = () => {
        const found = this.messages.find(match);
        if (found || this.ended) {
          this.waiters.delete(check);
          clearTimeout(timer);
          if (found) resolve(found);
          else reject(new Error(`stream ended; got ${JSON.stringify(this.messages)}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves when the server ends the stream. */
  untilEnded(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('stream still open')), timeoutMs);
      const check = () => {
        if (!this.ended) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The events of `type` so far, their data parsed. */
  events<T = Record<string, unknown>>(type: string): T[] {
    return this.messages.filter((m) => m.event === type).map((m) => JSON.parse(m.data ?? '') as T);
  }

  /** The client goes away (closes its connection). */
  close(): void {
    this.abort.abort();
  }
}

function parse(block: string): SseMessage {
  const message: SseMessage = {};
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) message.comment = line.slice(1).trim();
    else if (line.startsWith('event: ')) message.event = line.slice(7);
    else if (line.startsWith('data: ')) message.data = line.slice(6);
  }
  return message;
}
