import { type serverMessages, Timing } from '@drover/protocol';
import type { z } from 'zod';

type Heartbeat = z.output<typeof serverMessages.WorkerHeartbeat>;

/** What the registry keeps of a heartbeat: everything but the secret. */
export interface WorkerInfo extends Omit<Heartbeat, 'secret'> {
  /** This server's clock when the last heartbeat arrived. */
  lastSeenAt: number;
  /** Its loss has been announced (a new heartbeat makes a fresh record). */
  lostAnnounced?: boolean;
}

/**
 * Every server keeps its own registry from the heartbeats all servers
 * receive; a worker is alive while its last heartbeat is recent.
 */
export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerInfo>();
  private readonly joinedListeners = new Set<(w: WorkerInfo) => void>();

  constructor(private readonly deadAfterMs: number = Timing.WORKER_DEAD_MS) {}

  record(heartbeat: Heartbeat, now = Date.now()): void {
    const key = `${heartbeat.app}/${heartbeat.workerId}`;
    const previous = this.workers.get(key);
    const { secret: _secret, ...rest } = heartbeat;
    const info = { ...rest, lastSeenAt: now };
    this.workers.set(key, info);
    if (!previous || !this.isAlive(previous, now)) {
      for (const listener of this.joinedListeners) listener(info);
    }
  }

  /** Called when a worker appears or comes back, e.g. to dispatch waiting runs at once. */
  onJoined(listener: (w: WorkerInfo) => void): void {
    this.joinedListeners.add(listener);
  }

  isAlive(w: WorkerInfo, now = Date.now()): boolean {
    return now - w.lastSeenAt < this.deadAfterMs;
  }

  alive(app: string, now = Date.now()): WorkerInfo[] {
    const result: WorkerInfo[] = [];
    for (const [key, w] of this.workers) {
      if (this.isAlive(w, now)) {
        if (w.app === app) result.push(w);
      } else if (now - w.lastSeenAt > 10 * this.deadAfterMs) {
        this.workers.delete(key);
      }
    }
    return result;
  }

  aliveCount(now = Date.now()): number {
    let n = 0;
    for (const w of this.workers.values()) if (this.isAlive(w, now)) n++;
    return n;
  }

  /** Workers that went silent since the last call (each reported once per silence). */
  newlyLost(now = Date.now()): WorkerInfo[] {
    const lost: WorkerInfo[] = [];
    for (const w of this.workers.values()) {
      if (w.lostAnnounced || this.isAlive(w, now) || w.processors.length === 0) continue;
      w.lostAnnounced = true;
      lost.push(w);
    }
    return lost;
  }

  /** Workers heard after `heardAfter` whose heartbeats then stopped for `silentMs` or more. */
  silent(heardAfter: number, silentMs: number, now = Date.now()): WorkerInfo[] {
    const out: WorkerInfo[] = [];
    for (const w of this.workers.values())
      if (w.lastSeenAt > heardAfter && now - w.lastSeenAt >= silentMs) out.push(w);
    return out;
  }

  get(app: string, workerId: string): WorkerInfo | undefined {
    return this.workers.get(`${app}/${workerId}`);
  }

  all(app: string): WorkerInfo[] {
    return [...this.workers.values()].filter((w) => w.app === app);
  }
}
