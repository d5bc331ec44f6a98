import { monotonicMs, type serverMessages, Timing } from '@drover/protocol';
import type { z } from 'zod';

type Heartbeat = z.output<typeof serverMessages.WorkerHeartbeat>;

// A busy map worker's free slots flip between 0 and more on most beats: a
// free slot again wakes waiting runs at most this often per worker.
const ROOM_WAKE_EVERY_MS = 2_000;

// Incarnations no longer holding their worker id (lost, left, superseded),
// with their last accepted seq: a replay of their heartbeats is ignored.
const RETIRED_MAX = 10_000;
const RETIRED_MS = 60 * 60_000;

/** Why a heartbeat was ignored; undefined when recorded. */
export type HeartbeatRefusal = 'stale' | 'held';

/** What the registry keeps of a heartbeat. */
export interface WorkerInfo extends Heartbeat {
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
  /** The free slots its last heartbeat gave, before runs sent since lowered `metrics.freeSlots`. */
  beatFreeSlots?: number;
  /** `trackedInstances` as a set, made on the first lookup. */
  tracked?: Set<string>;
}

/**
 * Every server keeps its own registry from the heartbeats all servers
 * receive; a worker is alive while its last heartbeat is recent.
 */
export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerInfo>();
  private readonly joinedListeners = new Set<(w: WorkerInfo) => void>();
  private readonly retired = new Map<string, { seq: number; at: number }>();
  /** Heartbeats ignored so far: a stale seq (a replay), or another live incarnation's id. */
  readonly ignored = { stale: 0, held: 0 };

  constructor(private readonly deadAfterMs: number = Timing.WORKER_DEAD_MS) {}

  /**
   * Whether this heartbeat may update its worker: from the incarnation holding
   * the id with a newer seq, or from any incarnation once the holder is lost
   * or left (drained); never an old seq of a retired incarnation. In memory only.
   */
  admits(heartbeat: Heartbeat, now = monotonicMs()): HeartbeatRefusal | undefined {
    const retired = this.retired.get(heartbeat.incarnation);
    if (retired && heartbeat.seq <= retired.seq) return 'stale';
    const holder = this.workers.get(`${heartbeat.app}/${heartbeat.workerId}`);
    if (!holder) return undefined;
    if (holder.incarnation === heartbeat.incarnation)
      return heartbeat.seq > holder.seq ? undefined : 'stale';
    return this.holds(holder, now) ? 'held' : undefined;
  }

  /** A live incarnation that has not left still holds its worker id. */
  holds(w: WorkerInfo, now = monotonicMs()): boolean {
    return this.isAlive(w, now) && w.processors.length > 0;
  }

  /** Records a heartbeat `admits` allows; returns why it was ignored otherwise. */
  record(heartbeat: Heartbeat, now = monotonicMs()): HeartbeatRefusal | undefined {
    const refusal = this.admits(heartbeat, now);
    if (refusal) {
      this.ignored[refusal]++;
      return refusal;
    }
    const key = `${heartbeat.app}/${heartbeat.workerId}`;
    const previous = this.workers.get(key);
    if (previous && previous.incarnation !== heartbeat.incarnation) this.retire(previous, now);
    const roomAgain =
      previous !== undefined &&
      (previous.beatFreeSlots ?? previous.metrics.freeSlots) === 0 &&
      heartbeat.metrics.freeSlots > 0 &&
      now - (previous.roomWakeAt ?? Number.NEGATIVE_INFINITY) >= ROOM_WAKE_EVERY_MS;
    const roomWakeAt = roomAgain ? now : previous?.roomWakeAt;
    const info = { ...heartbeat, lastSeenAt: Date.now(), seenAt: now, roomWakeAt };
    this.workers.set(key, info);
    if (!previous || !this.isAlive(previous, now) || roomAgain) {
      for (const listener of this.joinedListeners) listener(info);
    }
    return undefined;
  }

  private retire(w: WorkerInfo, now: number): void {
    this.retired.delete(w.incarnation);
    this.retired.set(w.incarnation, { seq: w.seq, at: now });
    // Oldest first: past the bound or the age, they are forgotten.
    for (const [incarnation, r] of this.retired) {
      if (this.retired.size <= RETIRED_MAX && now - r.at < RETIRED_MS) break;
      this.retired.delete(incarnation);
    }
  }

  /**
   * Called when a worker appears, comes back, or has a free slot again (it
   * refuses runs while full), e.g. to dispatch waiting runs at once.
   */
  onJoined(listener: (w: WorkerInfo) => void): void {
    this.joinedListeners.add(listener);
  }

  /**
   * Counts `runs` just sent to a worker against its free slots until its
   * next heartbeat, so the next picks spread a burst over the other workers.
   */
  reserve(app: string, workerId: string, runs: number): WorkerInfo | undefined {
    const w = this.workers.get(`${app}/${workerId}`);
    if (!w || runs <= 0) return undefined;
    w.beatFreeSlots ??= w.metrics.freeSlots;
    w.metrics = { ...w.metrics, freeSlots: Math.max(0, w.metrics.freeSlots - runs) };
    return w;
  }

  /**
   * Gives back `runs` reserved on `reserved` that will not be sent (e.g. runs
   * an idempotency key made repeats), unless a heartbeat has replaced that
   * record since: its count is fresh, and reservations died with the old one.
   */
  unreserve(reserved: WorkerInfo, runs: number): void {
    if (this.workers.get(`${reserved.app}/${reserved.workerId}`) !== reserved || runs <= 0) return;
    const free = Math.min(
      reserved.beatFreeSlots ?? reserved.metrics.freeSlots,
      reserved.metrics.freeSlots + runs,
    );
    reserved.metrics = { ...reserved.metrics, freeSlots: free };
  }

  /**
   * Whether a live worker's last heartbeat lists the instance as its own
   * (running, or queued in its run queue).
   */
  tracks(app: string, workerId: string, instanceId: string, now = monotonicMs()): boolean {
    const w = this.workers.get(`${app}/${workerId}`);
    if (!w || !this.isAlive(w, now)) return false;
    w.tracked ??= new Set(w.trackedInstances);
    return w.tracked.has(instanceId);
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
        this.retire(w, now);
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
