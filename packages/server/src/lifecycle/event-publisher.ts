import { publishEvent } from '@drover/transport';
import type { NatsConnection } from '@nats-io/nats-core';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { WorkerRegistry } from '../dispatch/worker-registry.js';
import type { Instance } from '../store/instance-row.js';
import type { LogLine } from '../store/logs.js';

const LOST_CHECK_MS = 1_000;
/** A log event's lines take at most this much JSON: far below NATS's 1 MiB max_payload. */
const LOG_EVENT_BYTES = 256 * 1024;

/**
 * Publishes lifecycle events for monitors: instance state changes this
 * server makes, and workers it stops hearing from (workers announce their own
 * joining and leaving).
 */
export class EventPublisher {
  private readonly appNames = new Map<string, Promise<string | undefined>>();
  private readonly knownNames = new Map<string, string>();
  /** Events per app waiting for its name's lookup: later ones wait behind them. */
  private readonly waiting = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly pool: pg.Pool,
    private readonly registry: WorkerRegistry,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.publishLost(), LOST_CHECK_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  instance(instance: Instance): void {
    const { appId } = instance;
    // At once when its app's name is known and no earlier event of the app
    // still waits for the lookup (it would be overtaken): a promise reaction
    // per event was ~0.5 µs of two or three a run.
    const known = this.knownNames.get(appId);
    const waiting = this.waiting.get(appId) ?? 0;
    if (known !== undefined && waiting === 0) {
      this.publishInstance(known, instance);
      return;
    }
    this.waiting.set(appId, waiting + 1);
    const done = () => {
      const left = (this.waiting.get(appId) ?? 1) - 1;
      if (left > 0) this.waiting.set(appId, left);
      else this.waiting.delete(appId);
    };
    // Reactions of one promise run in the order they were added: these events keep their order.
    this.appName(appId).then(
      (app) => {
        done();
        if (app) this.publishInstance(app, instance);
      },
      (err: Error) => {
        done();
        this.log.debug({ err: err.message }, 'instance event not published');
      },
    );
  }

  private publishInstance(app: string, instance: Instance): void {
    publishEvent(
      this.nc,
      {
        type: 'instance',
        app,
        instanceId: instance.id,
        jobId: instance.jobId,
        status: instance.status,
        workerId: instance.workerId,
        epoch: instance.epoch,
        result: instance.result,
        reason: instance.reason,
        at: Date.now(),
      },
      this.log,
    );
  }

  /** Stored log lines of a run, as one event or (a large batch) several in order. */
  logs(app: string, instanceId: string, lines: LogLine[]): void {
    let chunk: LogLine[] = [];
    let bytes = 0;
    const flush = () => {
      if (chunk.length > 0)
        publishEvent(this.nc, { type: 'log', app, instanceId, lines: chunk }, this.log);
      chunk = [];
      bytes = 0;
    };
    for (const line of lines) {
      // Characters, not bytes: a line of non-ASCII text may weigh up to 3x; still far below the limit.
      const size = line.message.length * 3 + 200;
      if (bytes + size > LOG_EVENT_BYTES) flush();
      chunk.push(line);
      bytes += size;
    }
    flush();
  }

  private publishLost(): void {
    for (const w of this.registry.newlyLost()) {
      publishEvent(
        this.nc,
        { type: 'worker', app: w.app, workerId: w.workerId, state: 'lost', at: Date.now() },
        this.log,
      );
    }
  }

  /**
   * App names never change: looked up once per app. The promise itself is
   * kept, so events of one app publish in the order they happened.
   */
  private appName(appId: string): Promise<string | undefined> {
    const known = this.appNames.get(appId);
    if (known !== undefined) return known;
    const lookup = this.pool
      .query<{ name: string }>('SELECT name FROM apps WHERE id = $1', [appId])
      .then(({ rows }) => rows[0]?.name);
    this.appNames.set(appId, lookup);
    // A failed or empty lookup is tried again next time.
    lookup.then(
      (name) => {
        if (name) this.knownNames.set(appId, name);
        else this.appNames.delete(appId);
      },
      () => this.appNames.delete(appId),
    );
    return lookup;
  }
}
