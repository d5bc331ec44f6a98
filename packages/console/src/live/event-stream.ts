import { SseParser } from '@drover/client';
import { reconnectDelays } from './backoff.js';
import { type ConsoleEvent, parseEvent } from './events.js';

export type StreamState = 'connecting' | 'open' | 'retrying' | 'unauthorized' | 'closed';

export interface EventStreamOptions {
  /** The stream's URL, e.g. `/api/v1/apps/a/events`. */
  url: string;
  /** Sent as `Authorization: Bearer` (fetch, not EventSource: the token stays out of the URL). */
  token: string;
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** Waits between attempts; default 0.5 s doubling to 10 s with jitter. */
  delays?: () => Iterator<number>;
}

/** A stream open this long before it dropped was healthy (the server pings every 15 s). */
const HEALTHY_MS = 10_000;

type Listener = (event: ConsoleEvent) => void;
type StateListener = (state: StreamState, reconnected: boolean) => void;

/**
 * The console's one reader of the server's event stream, shared by every page:
 * it connects on the first subscriber, reconnects with backoff when the stream
 * ends or fails, and closes when the last subscriber leaves. Listeners hear of a
 * reconnect (`reconnected`), when events may have been missed, to reload.
 */
export class EventStream {
  private readonly listeners = new Set<Listener>();
  private readonly stateListeners = new Set<StateListener>();
  private controller: AbortController | undefined;
  private current: StreamState = 'closed';
  private readonly fetch: (input: string, init: RequestInit) => Promise<Response>;

  constructor(private readonly options: EventStreamOptions) {
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  get state(): StreamState {
    return this.current;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    if (!this.controller) this.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  onState(listener: StateListener): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Ends the stream for good (sign-out). */
  close(): void {
    this.listeners.clear();
    this.stop();
  }

  private start(): void {
    const controller = new AbortController();
    this.controller = controller;
    void this.run(controller.signal);
  }

  private stop(): void {
    this.controller?.abort();
    this.controller = undefined;
    this.setState('closed', false);
  }

  private setState(state: StreamState, reconnected: boolean): void {
    this.current = state;
    for (const listener of this.stateListeners) listener(state, reconnected);
  }

  private async run(signal: AbortSignal): Promise<void> {
    let delays = (this.options.delays ?? reconnectDelays)();
    let opened = false;
    while (!signal.aborted) {
      this.setState(opened ? 'retrying' : 'connecting', false);
      let received = false;
      let openedAt: number | undefined;
      try {
        const res = await this.fetch(this.options.url, {
          headers: { accept: 'text/event-stream', authorization: `Bearer ${this.options.token}` },
          signal,
        });
        if (res.status === 401 || res.status === 403) {
          this.setState('unauthorized', false);
          return;
        }
        if (res.ok && res.body) {
          this.setState('open', opened);
          opened = true;
          openedAt = Date.now();
          received = await this.read(res.body, signal);
        }
      } catch {
        // A failed connect or a dropped stream: retried below.
      }
      if (signal.aborted) return;
      // A stream that carried events, or stayed open a while (pings only), was
      // healthy: start the backoff over.
      const lasted = openedAt !== undefined && Date.now() - openedAt >= HEALTHY_MS;
      if (received || lasted) delays = (this.options.delays ?? reconnectDelays)();
      const wait = delays.next().value ?? 10_000;
      this.setState('retrying', false);
      await sleep(wait, signal);
    }
  }

  /** Reads one response until it ends; whether any message came. */
  private async read(body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<boolean> {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const reader = body.getReader();
    const cancel = () => void reader.cancel().catch(() => undefined);
    signal.addEventListener('abort', cancel, { once: true });
    let received = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return received;
        for (const message of parser.push(decoder.decode(value, { stream: true }))) {
          received = true;
          const event = parseEvent(message.data);
          if (event) for (const listener of [...this.listeners]) listener(event);
        }
      }
    } finally {
      signal.removeEventListener('abort', cancel);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
