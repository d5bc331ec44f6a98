import { DroverError, ErrorCode, monotonicMs, routes } from '@drover/protocol';
import type { Bus } from '@drover/transport';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { WorkerRegistry } from '../dispatch/worker-registry.js';
import { PeriodicLoop } from '../periodic-loop.js';
import { redispatchFromLostWorker, runningOn } from '../store/lost-worker-transitions.js';
import type { InstanceEvents } from './instance-events.js';

export interface LostWorkerOptions {
  intervalMs: number;
  /** Heartbeats missing this long make a worker holding runs worth a probe. */
  silentMs: number;
  /** Re-dispatches for lost workers a run may use before it fails. */
  redispatchLimit: number;
}

const PROBE_TIMEOUT_MS = 1_000;

/**
 * Finds runs whose TaskTracker's worker is gone, well before the 15 s silence
 * bound, and dispatches them again without using a retry.
 *
 * A worker whose heartbeats stopped for `silentMs` while this server was
 * connected is probed with `query_instance_status`. Only a no-responders
 * answer counts: NATS itself says no process serves that worker's subjects
 * any more (its connection closed, e.g. `kill -9`). A worker that is merely
 * slow, blocked or paused still holds its subscriptions, so it times out or
 * answers, and its runs are left alone (the silence bound still applies).
 * Silence that began while this server was disconnected proves nothing, so
 * only heartbeats heard since its last (re)connection count.
 */
export class LostWorkers {
  private readonly loop: PeriodicLoop;
  private connectedSince = monotonicMs();
  private connected = true;
  /** Workers found lost, with the heartbeat they went silent after: not probed again for it. */
  private readonly lost = new Map<string, number>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly bus: Bus,
    private readonly registry: WorkerRegistry,
    private readonly events: InstanceEvents,
    private readonly log: Logger,
    private readonly options: LostWorkerOptions,
  ) {
    this.loop = new PeriodicLoop('lost-workers', options.intervalMs, () => this.round(), log);
  }

  start(): void {
    void this.watchConnection().catch(() => undefined);
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  private async watchConnection(): Promise<void> {
    for await (const status of this.bus.nc.status()) {
      if (status.type === 'disconnect') this.connected = false;
      if (status.type === 'reconnect') {
        this.connected = true;
        this.connectedSince = monotonicMs();
      }
    }
  }

  private async round(): Promise<void> {
    if (!this.connected) return;
    const silent = this.registry
      .silent(this.connectedSince, this.options.silentMs)
      .filter((w) => this.lost.get(`${w.app}/${w.workerId}`) !== w.seenAt);
    if (!silent.length) return;
    const runs = await runningOn(this.pool, silent);
    const byWorker = new Map<string, typeof runs>();
    for (const r of runs) {
      const key = `${r.app}/${r.workerId}`;
      byWorker.set(key, [...(byWorker.get(key) ?? []), r]);
    }
    await Promise.all(
      silent.map(async (w) => {
        const key = `${w.app}/${w.workerId}`;
        const held = byWorker.get(key) ?? [];
        if (!held.length) return;
        if (!(await this.gone(w.app, w.workerId, held[0]?.id as string))) return;
        for (const run of held) {
          const outcome = await redispatchFromLostWorker(
            this.pool,
            run,
            this.options.redispatchLimit,
          );
          if (outcome.kind === 'moved') continue;
          this.log.warn(
            { instanceId: run.id, workerId: w.workerId, outcome: outcome.kind },
            outcome.instance.reason ?? 'run of a lost worker',
          );
          this.events.changed(outcome.instance);
        }
        // Only once all its runs moved: a database error above leaves it to the next round.
        this.lost.set(key, w.seenAt);
      }),
    );
    const old = monotonicMs() - 10 * 60_000;
    for (const [key, seen] of this.lost) if (seen < old) this.lost.delete(key);
  }

  /** True only when NATS answers that nothing serves the worker's TaskTracker any more. */
  private async gone(app: string, workerId: string, instanceId: string): Promise<boolean> {
    try {
      await this.bus.ask(
        routes.tt.queryInstanceStatus,
        { app, workerId },
        { instanceId },
        { timeoutMs: PROBE_TIMEOUT_MS },
      );
      return false;
    } catch (err) {
      return err instanceof DroverError && err.code === ErrorCode.NO_RESPONDERS;
    }
  }
}
