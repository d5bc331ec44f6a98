import { monotonicMs, type serverMessages, Timing } from '@drover/protocol';
import type { z } from 'zod';

type Heartbeat = z.output<typeof serverMessages.WorkerHeartbeat>;

// A busy map worker's free slots flip between 0 and more on most beats: a
// free slot again wakes waiting runs at most this often per worker.
const ROOM_WAKE_EVERY_MS = 2_000;

/** What the registry keeps of a heartbeat: everything but the secret. */
export interface WorkerInfo extends Omit<Heartbeat, 'secret'> {
  /** This server's wall clock when the last heartbeat arrived (for people to read). */
  lastSeenAt: number;
  /**
   * Its monotonic clock then: ages are measured on it, never by comparing the
   * worker's `sentAt` with this server's wall clock.
   */
  seenAt: number;
  /** When a free slot again last woke waiting runs (monotonic ms). */
  roomWakeAt?: number;
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

  record(heartbeat: Heartbeat, now = monotonicMs()): void {
    const key = `${heartbeat.app}/${heartbeat.workerId}`;
    const previous = this.workers.get(key);
    const { secret: _secret, ...rest } = heartbeat;
    const roomAgain =
      previous?.metrics.freeSlots === 0 &&
      heartbeat.metrics.freeSlots > 0 &&
      now - (previous.roomWakeAt ?? Number.NEGATIVE_INFINITY) >= ROOM_WAKE_EVERY_MS;
    const roomWakeAt = roomAgain ? now : previous?.roomWakeAt;
    const info = { ...rest, lastSeenAt: Date.now(), seenAt: now, roomWakeAt };
    this.workers.set(key, info);
    if (!previous || !this.isAlive(previous, now) || roomAgain) {
      for (const listener of this.joinedListeners) listener(info);
    }
  }

  /**
   * Called when a worker appears, comes back, or has a free slot again (it
   * refuses runs while full), e.g. to dispatch waiting runs at once.
   */
  onJoined(listener: (w: WorkerInfo) => void): void {
    this.joinedListeners.add(listener);
  }

  isAlive(w: WorkerInfo, now = monotonicMs()): boolean {
    return now - w.seenAt < this.deadAfterMs;
  }

  alive(app: string, now = monotonicMs()): WorkerInfo[] {
    const result: WorkerInfo[] = [];
    for (const [key, w] of this.workers) {
      if (this.isAlive(w, now)) {
        if (w.app === app) result.push(w);
      } else if (now - w.seenAt > 10 * this.deadAfterMs) {
        this.workers.delete(key);
      }
    }
    return result;
  }

  aliveCount(now = monotonicMs()): number {
    let n = 0;
    for (const w of this.workers.values()) if (this.isAlive(w, now)) n++;
    return n;
  }

  /** Workers that went silent since the last call (each reported once per silence). */
  newlyLost(now = monotonicMs()): WorkerInfo[] {
    const lost: WorkerInfo[] = [];
    for (const w of this.workers.values()) {
      if (w.lostAnnounced || this.isAlive(w, now) || w.processors.length === 0) continue;
      w.lostAnnounced = true;
      lost.push(w);
    }
    return lost;
  }

  /** Workers heard after `heardAfter` (monotonic ms) whose heartbeats then stopped for `silentMs` or more. */
  silent(heardAfter: number, silentMs: number, now = monotonicMs()): WorkerInfo[] {
    const out: WorkerInfo[] = [];
    for (const w of this.workers.values())
      if (w.seenAt > heardAfter && now - w.seenAt >= silentMs) out.push(w);
    return out;
  }

  get(app: string, workerId: string): WorkerInfo | undefined {
    return this.workers.get(`${app}/${workerId}`);
  }

  all(app: string): WorkerInfo[] {
    return [...this.workers.values()].filter((w) => w.app === app);
  }
}
