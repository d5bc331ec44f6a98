import { randomUUID } from 'node:crypto';
import { routes } from '@drover/protocol';
import type { Bus, DroverLogger as Logger } from '@drover/transport';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const FLUSH_MS = 500;
const MAX_BATCH = 500;
const MAX_BUFFER = 10_000;
/** The longest message the server stores (LogLine's limit); a longer one is cut to it. */
const MAX_MESSAGE = 65_536;
// What a line weighs in a batch at most: UTF-8 takes up to 3 bytes a UTF-16
// unit, plus its other fields and msgpack's framing.
const lineBytes = (line: Line) => line.message.length * 3 + 128;

export interface OnlineLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

interface Line {
  ts: number;
  level: LogLevel;
  message: string;
  taskId?: string;
}

/**
 * Buffers a run's log lines and ships them to the server in batches with
 * reliableAsk; each batch keeps its id across retries, so it is stored once.
 * A full buffer drops the oldest lines (and says so) rather than grow.
 */
export class RunLogShipper {
  private buffer: Line[] = [];
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private shipping: Promise<void> = Promise.resolve();

  constructor(
    private readonly bus: Bus,
    private readonly app: string,
    private readonly workerId: string,
    private readonly instanceId: string,
    private readonly minLevel: LogLevel,
    private readonly log: Logger,
  ) {}

  forTask(taskId?: string): OnlineLogger {
    const line = (level: LogLevel) => (message: string) =>
      this.add({ ts: Date.now(), level, message: cut(String(message)), taskId });
    return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
  }

  private add(line: Line): void {
    if (RANK[line.level] < RANK[this.minLevel]) return;
    if (this.buffer.length >= MAX_BUFFER) {
      this.buffer.shift();
      this.dropped++;
    }
    this.buffer.push(line);
    if (this.buffer.length >= MAX_BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Ships what is buffered; resolves when it is stored (or given up on). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.shipping = this.shipping.then(() => this.shipAll());
    return this.shipping;
  }

  private async shipAll(): Promise<void> {
    if (this.dropped) {
      this.buffer.unshift({
        ts: Date.now(),
        level: 'warn',
        message: `${this.dropped} log lines dropped (buffer full)`,
      });
      this.dropped = 0;
    }
    // Half of NATS's max_payload a batch, as final reports: a batch of wide lines is split, not lost.
    const budget = this.bus.maxPayload / 2;
    while (this.buffer.length) {
      let count = 0;
      for (let bytes = 0; count < Math.min(MAX_BATCH, this.buffer.length); count++) {
        bytes += lineBytes(this.buffer[count] as Line);
        if (bytes > budget && count > 0) break;
      }
      const lines = this.buffer.splice(0, count);
      const batchId = randomUUID();
      try {
        await this.bus.reliableAsk(
          routes.server.reportLog,
          { app: this.app },
          { instanceId: this.instanceId, workerId: this.workerId, batchId, lines },
          { deadlineMs: 30_000, idempotencyKey: batchId },
        );
      } catch (err) {
        this.log.warn(
          { err: (err as Error).message, lines: lines.length },
          'could not ship log lines',
        );
      }
    }
  }
}

/** A message past what the server stores, cut to it and saying so. */
function cut(message: string): string {
  if (message.length <= MAX_MESSAGE) return message;
  // Not between the two halves of a surrogate pair: a lone half is text Postgres cannot store.
  const end = /[\uD800-\uDBFF]/.test(message[MAX_MESSAGE - 65] ?? '')
    ? MAX_MESSAGE - 65
    : MAX_MESSAGE - 64;
  return `${message.slice(0, end)} … (${message.length - end} characters cut)`;
}
