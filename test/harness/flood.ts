import { randomUUID } from 'node:crypto';
import { encode, routeSubject, routes } from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';

// Forged and garbage messages, as a hostile client publishes them at a
// server's report/heartbeat/log subjects and at a worker's TaskTracker and
// ProcessorTracker subjects: schema-valid ones naming runs and workers that do
// not exist, and bytes that are not msgpack.

export interface FloodTarget {
  app: string;
  /** The worker whose tt/pt subjects are flooded. */
  workerId: string;
}

export interface Flood {
  /** Resolves when the flood has run its duration. */
  done: Promise<void>;
  /** Messages published so far. */
  readonly sent: number;
  stop(): void;
}

const GARBAGE = new Uint8Array([0x85, 0xaa, 0x69, 0x6e]); // a map header, then too few bytes

let forgedId = 900_000_000;
const nextId = () => String(forgedId++);

/** One forged message per flooded subject; each call gives new ids, as an attacker would. */
export function forgedMessages(target: FloodTarget): Array<[string, Uint8Array]> {
  const { app, workerId } = target;
  const server = { app };
  const worker = { app, workerId };
  const now = Date.now();
  const forger = `forger-${forgedId % 97}`;
  const progress = { total: 1, succeeded: 1, failed: 0, running: 0 };
  const id = nextId();
  return [
    [
      routeSubject(routes.server.workerHeartbeat, server),
      encode({
        app,
        workerId: forger,
        secret: 'not-the-secret',
        version: '0.0.0',
        tags: [],
        processors: ['echo'],
        startedAt: now,
        sentAt: now,
        metrics: {
          cpuLoad: 0,
          cpuCores: 1,
          memoryUsedBytes: 1,
          memoryTotalBytes: 2,
          freeSlots: 9,
          totalSlots: 9,
        },
        trackedInstances: [],
      }),
    ],
    [
      routeSubject(routes.server.reportInstanceStatus, server),
      encode({
        instanceId: id,
        epoch: 1,
        workerId: forger,
        status: 'SUCCEEDED',
        progress,
        reportedAt: now,
      }),
    ],
    [
      routeSubject(routes.server.reportLog, server),
      encode({
        instanceId: id,
        workerId: forger,
        batchId: randomUUID(),
        lines: [{ ts: now, level: 'info', message: 'forged' }],
      }),
    ],
    [
      routeSubject(routes.tt.mapTask, worker),
      encode({
        instanceId: id,
        batchId: randomUUID(),
        parentTaskId: 'root',
        taskName: 'forged',
        tasks: [{ taskId: randomUUID(), payload: null }],
      }),
    ],
    [
      routeSubject(routes.tt.reportTaskStatus, worker),
      encode({
        instanceId: id,
        workerId: forger,
        results: [{ taskId: randomUUID(), attempt: 1, status: 'SUCCEEDED' }],
      }),
    ],
    [
      routeSubject(routes.tt.ptHeartbeat, worker),
      encode({ instanceId: id, workerId: forger, freeSlots: 1, running: 0, sentAt: now }),
    ],
    [
      routeSubject(routes.pt.startTasks, worker),
      encode({
        instanceId: id,
        epoch: 1,
        taskTrackerWorkerId: forger,
        processorName: 'echo',
        jobId: '1',
        concurrency: 1,
        jobParams: null,
        instanceParams: null,
        tasks: [],
      }),
    ],
  ];
}

/**
 * Publishes forged and garbage messages (half each) round-robin over the
 * flooded subjects, at about `perSecond`, for `durationMs`. Asks carry a reply
 * subject nobody reads, so the flooded process pays for each answer too.
 */
export function startFlood(
  nc: NatsConnection,
  target: FloodTarget,
  options: { perSecond: number; durationMs: number },
): Flood {
  const TICK_MS = 10;
  // Each tick catches up with the rate (timers run late on a busy machine), a bounded burst at most.
  const MAX_BURST = Math.max(1, options.perSecond / 10);
  const reply = `_INBOX.flood-${randomUUID()}`;
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const startedAt = performance.now();
  let batch: Array<[string, Uint8Array]> = [];
  const tick = () => {
    const elapsed = performance.now() - startedAt;
    if (elapsed >= options.durationMs) return flood.stop();
    const due = Math.min(MAX_BURST, Math.floor((elapsed * options.perSecond) / 1000) - sent);
    for (let i = 0; i < due; i++) {
      if (batch.length === 0) batch = forgedMessages(target);
      const [subject, forged] = batch.pop() as [string, Uint8Array];
      nc.publish(subject, sent % 2 ? GARBAGE : forged, { reply });
      sent++;
    }
  };
  const flood: Flood = {
    done,
    get sent() {
      return sent;
    },
    stop() {
      clearInterval(timer);
      finish();
    },
  };
  timer = setInterval(tick, TICK_MS);
  return flood;
}
