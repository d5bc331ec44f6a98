import type { DroverEvent } from '@drover/protocol';
import { subscribeEvents } from '@drover/transport';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';

/** Open event streams a server holds at most (each one a NATS subscription). */
export const MAX_EVENT_STREAMS = 64;
/** A comment line this often keeps proxies from closing a quiet stream. */
export const EVENT_PING_MS = 15_000;
/**
 * Event bytes waiting for a client that does not read (beyond the socket's
 * own buffers) before its stream is dropped: a stalled console costs the
 * server at most this much. The client reconnects and reads the state anew.
 */
export const EVENT_BACKLOG_BYTES = 1024 * 1024;

export interface EventStream {
  /** Ends the stream: its NATS subscription and its ping timer. */
  close(): void;
}

/**
 * The Server-Sent Event streams of `GET /apps/{app}/events`: each subscribes
 * to its app's events on the server's NATS connection (validated there, see
 * subscribeEvents) and lives until its client goes or the server stops.
 */
export class EventStreams {
  private readonly open = new Set<EventStream>();
  private readonly ends = new WeakMap<EventStream, () => void>();

  constructor(
    private readonly nc: () => NatsConnection | undefined,
    private readonly log: Logger,
  ) {}

  /** Streams open now (each holds one NATS subscription). */
  get size(): number {
    return this.open.size;
  }

  get full(): boolean {
    return this.open.size >= MAX_EVENT_STREAMS;
  }

  /**
   * Subscribes to `app`'s events; `send` gets each one (or `null` for a ping),
   * `end` is called when the server ends the stream. Null when NATS is not
   * connected yet.
   */
  start(
    app: string,
    send: (event: DroverEvent | null) => void,
    end: () => void,
  ): EventStream | null {
    const nc = this.nc();
    if (!nc) return null;
    const sub = subscribeEvents(nc, app, send, this.log);
    const ping = setInterval(() => send(null), EVENT_PING_MS);
    const stream: EventStream = {
      close: () => {
        if (!this.open.delete(stream)) return;
        clearInterval(ping);
        sub.stop();
      },
    };
    this.ends.set(stream, end);
    this.open.add(stream);
    return stream;
  }

  /** Ends every stream (the server stops: an open response would hold its close). */
  closeAll(): void {
    for (const stream of [...this.open]) {
      stream.close();
      this.ends.get(stream)?.();
    }
  }
}
