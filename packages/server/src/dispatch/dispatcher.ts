import { DroverError, NoRespondersError, PayloadTooLargeError, routes } from '@drover/protocol';
import type { Bus } from '@drover/transport';
import type pg from 'pg';
import type { Logger } from 'pino';
import { inTransaction, retryWhileUnavailable } from '../db/pool.js';
import type { JobSpec } from '../jobs/job-spec.js';
import { dispatchBackoffMs } from '../lifecycle/retry-delay.js';
import type { DbClock } from '../scheduling/db-clock.js';
import type { Instance } from '../store/instance-row.js';
import {
  claimForDispatch,
  claimMany,
  currentEpochs,
  failUndeliverable,
  failWaiting,
  markAcceptedMany,
  queueForSlot,
  waitForWorker,
} from '../store/instance-transitions.js';
import { countActive, nextInLine } from '../store/instances.js';
import { compactRuns } from './compact-runs.js';
import { HeldAccepts } from './held-accepts.js';
import { type DispatchContext, loadForDispatch } from './load-for-dispatch.js';
import { runBatches } from './run-batches.js';
import type { RunFacts } from './run-facts.js';
import { type RunJob, runJobMessage, runTimeoutMs } from './run-job-message.js';
import type { WorkerInfo, WorkerRegistry } from './worker-registry.js';
import { bestWorker, eligibleWorkers, type Selection, selectWorkers } from './worker-selection.js';

const MAX_CANDIDATES_PER_ROUND = 3;
// A run this close to its time goes at once, without a start delay (timer and clock jitter).
const ON_TIME_MS = 2;

/** The worker a new run is bound to by its INSERT; `unpick` when the run is not created. */
export interface InsertPick {
  workerId: string;
  unpick(): void;
}

/** One run being offered: the workers to try, and the worker its epoch is bound to now. */
interface Offer {
  ctx: DispatchContext;
  /** The job's eligible workers, best first (a map run's TaskTracker gets them). */
  workers: string[];
  /** Those asked to take it, in turn: the first MAX_CANDIDATES_PER_ROUND. */
  candidates: string[];
  next: number;
  epoch: number;
  boundTo: string | null;
  failures: string[];
  /** The worker whose free slots already count this run (reserved when it was picked). */
  reservedOn: string | null;
  /** When its worker accepted it (database clock): its started_at until its worker reports one. */
  acceptedAt?: number;
}

/** How a worker answered one offered run. */
type Answer =
  | { kind: 'accepted' }
  | { kind: 'refused'; why: string }
  | { kind: 'undeliverable'; why: string };
// A queued run starts when a run of its job ends; this re-check only covers a
// server that died between freeing the slot and starting the next run.
const QUEUED_RECHECK_MS = 5_000;

/**
 * Hands waiting instances to TaskTrackers: picks workers by each job's
 * strategy, binds the instance to a worker under a new epoch, and asks
 * `run_job`. Instances due together are loaded and claimed in one query each,
 * so a burst of CRON slots costs a few round trips, not a few per run.
 * No-responders moves on to the next worker at once.
 */
export class Dispatcher {
  // Set by `sendAhead`: how early timed runs are sent, and who wakes those that cannot go early.
  private leadMs = 0;
  private tooEarly: (instanceId: string, dueInMs: number) => void = () => {};

  private readonly heldAccepts = new HeldAccepts<Offer>((app, worker, offers) =>
    this.writeAccepted(app, worker, offers),
  );

  constructor(
    private readonly pool: pg.Pool,
    private readonly bus: Bus,
    private readonly registry: WorkerRegistry,
    private readonly log: Logger,
    private readonly facts: RunFacts,
    private readonly unknownProcessorGraceMs: number,
    /** Due and creation times are database times: compared with the database clock. */
    private readonly clock: DbClock,
    /** Told when a TaskTracker accepted a run (for lifecycle events). */
    private readonly onStarted: (instance: Instance) => void = () => {},
    /** Told when a run failed before reaching a worker (lifecycle events, queued runs). */
    private readonly onFailed: (instance: Instance) => void = () => {},
    /** Aborted when the server stops: ends retries of writes while Postgres is away. */
    private readonly stopping?: AbortSignal,
  ) {}

  /**
   * Timed runs woken up to `leadMs` before their time are sent ahead, with
   * `startInMs`. One that cannot be (a job with a concurrency limit counts
   * its runs at their time; a worker that does not honour `startInMs` would
   * start it at once) goes to `tooEarly`, which wakes it again at its time.
   */
  sendAhead(leadMs: number, tooEarly: (instanceId: string, dueInMs: number) => void): void {
    this.leadMs = leadMs;
    this.tooEarly = tooEarly;
  }

  /** Whether this worker starts a run sent ahead of its time on time. */
  private holdsTimedRuns(app: string, workerId: string): boolean {
    return this.registry.get(app, workerId)?.timedStarts === true;
  }

  /** Never throws: a failed dispatch leaves the instance for the next scan. */
  dispatch(instanceIds: string[]): Promise<void> {
    return this.guarded(instanceIds.length, async () =>
      this.dispatchMany(await loadForDispatch(this.pool, instanceIds)),
    );
  }

  /**
   * The worker to bind a run to in the same INSERT that creates it (insert
   * and claim in one round trip), or undefined to insert it waiting: a job
   * with a concurrency limit, or no live worker that can run it. A busy
   * worker is picked too (the best one, as a dispatch would): it queues the
   * run, or refuses it as full and the run goes on to the next candidates.
   */
  /**
   * Picks for the runs of one call: each job's eligible workers are found
   * once (a bulk call of 1,000 runs filtered and sorted them 1,000 times),
   * each pick still made on the slots its predecessors reserved.
   */
  insertPicker(): (app: string, spec: JobSpec) => InsertPick | undefined {
    const eligible = new Map<JobSpec, WorkerInfo[]>();
    return (app, spec) => {
      if (spec.maxConcurrentInstances > 0) return undefined;
      let workers = eligible.get(spec);
      if (!workers) {
        workers = eligibleWorkers(this.registry.alive(app), spec).workers;
        eligible.set(spec, workers);
      }
      const workerId = bestWorker(workers, spec.dispatchStrategy)?.workerId;
      if (workerId === undefined) return undefined;
      // Counted at once, so the next picks of the same batch spread over the workers.
      const reserved = this.registry.reserve(app, workerId, 1);
      return {
        workerId,
        unpick: () => {
          if (reserved) this.registry.unreserve(reserved, 1);
        },
      };
    };
  }

  /**
   * Runs inserted already claimed (worker and epoch set by the INSERT):
   * offered to the claimed worker first under that epoch, without another
   * claim; a claimed worker gone meanwhile is skipped (the next one claims anew).
   */
  dispatchClaimed(items: { ctx: DispatchContext; epoch: number }[]): Promise<void> {
    // The claimed worker first, then the job's others in dispatch order: once
    // per job and claimed worker, not once per run (runs only read the list);
    // a RANDOM job's order is drawn for each run.
    const lists = new Map<JobSpec, Map<string | null, string[]>>();
    const ordered = (ctx: DispatchContext, claimed: string | null): string[] => {
      const ids = selectWorkers(this.registry.alive(ctx.app), ctx.spec).ordered.map(
        (w) => w.workerId,
      );
      return [...ids.filter((w) => w === claimed), ...ids.filter((w) => w !== claimed)];
    };
    const candidates = (ctx: DispatchContext, claimed: string | null): string[] => {
      if (ctx.spec.dispatchStrategy === 'RANDOM') return ordered(ctx, claimed);
      let byClaimed = lists.get(ctx.spec);
      if (!byClaimed) {
        byClaimed = new Map();
        lists.set(ctx.spec, byClaimed);
      }
      let list = byClaimed.get(claimed);
      if (!list) {
        list = ordered(ctx, claimed);
        byClaimed.set(claimed, list);
      }
      return list;
    };
    return this.guarded(items.length, () =>
      this.offerAll(
        items.map(({ ctx, epoch }) => {
          this.remember(ctx);
          const claimed = ctx.instance.workerId;
          return this.newOffer(
            ctx,
            candidates(ctx, claimed),
            epoch,
            claimed,
            claimed, // its pick at insert reserved its slot
          );
        }),
      ),
    );
  }

  /** Like `dispatch`, for runs the caller has just written and holds (no reload). */
  dispatchLoaded(contexts: DispatchContext[]): Promise<void> {
    return this.guarded(contexts.length, () => this.dispatchMany(contexts));
  }

  private async guarded(count: number, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.log.warn({ err, instanceIds: count }, 'dispatch failed; the next scan retries');
    }
  }

  private async dispatchMany(contexts: DispatchContext[]): Promise<void> {
    const now = this.clock.now();
    const unlimited: { ctx: DispatchContext; selection: Selection; workerId: string }[] = [];
    const single: Promise<void>[] = [];
    for (const ctx of contexts) {
      const early = ctx.instance.nextDispatchAt - now;
      if (early > this.leadMs + 1_000) continue; // armed too early: the scans arm it again
      this.remember(ctx);
      const selection = selectWorkers(this.registry.alive(ctx.app), ctx.spec);
      const first = selection.ordered[0];
      const aheadOk =
        first !== undefined &&
        ctx.spec.maxConcurrentInstances === 0 &&
        this.holdsTimedRuns(ctx.app, first.workerId);
      if (early > ON_TIME_MS && !aheadOk) {
        this.tooEarly(ctx.instance.id, early);
      } else if (
        !first &&
        selection.unknownProcessor &&
        now - ctx.instance.createdAt >= this.unknownProcessorGraceMs
      ) {
        // Live workers, none with this processor, for longer than a rollout takes: a clear failure beats waiting.
        single.push(
          failWaiting(this.pool, ctx.instance.id, selection.reason ?? 'unknown processor').then(
            (failed) => {
              if (failed) this.onFailed(failed);
            },
          ),
        );
      } else if (!first) {
        const backoff = dispatchBackoffMs(ctx.dispatchFailures);
        single.push(
          waitForWorker(
            this.pool,
            ctx.instance.id,
            null,
            backoff,
            selection.reason ?? 'no worker',
          ).then(() => undefined),
        );
      } else if (ctx.spec.maxConcurrentInstances > 0) {
        single.push(this.dispatchLimited(ctx, selection, first.workerId));
      } else {
        // Counted at once, so the rest of this batch (a CRON slot's runs) spreads over the workers.
        this.registry.reserve(ctx.app, first.workerId, 1);
        unlimited.push({ ctx, selection, workerId: first.workerId });
      }
    }
    const epochs = unlimited.length
      ? await claimMany(
          this.pool,
          unlimited.map((u) => ({
            id: u.ctx.instance.id,
            workerId: u.workerId,
            timeoutMs: runTimeoutMs(u.ctx.spec),
          })),
        )
      : new Map<string, number>();
    const offers = unlimited.flatMap((u) => {
      const epoch = epochs.get(u.ctx.instance.id);
      if (epoch === undefined) return [];
      const workers = u.selection.ordered.map((w) => w.workerId);
      return [this.newOffer(u.ctx, workers, epoch, u.workerId, u.workerId)];
    });
    await Promise.all([...single, this.offerAll(offers)]);
  }

  private remember(ctx: DispatchContext): void {
    this.facts.remember(ctx.instance.id, {
      app: ctx.app,
      concurrencyLimit: ctx.spec.maxConcurrentInstances,
    });
  }

  private newOffer(
    ctx: DispatchContext,
    workers: string[],
    epoch: number,
    boundTo: string | null,
    reservedOn: string | null = null,
  ): Offer {
    const candidates = workers.slice(0, MAX_CANDIDATES_PER_ROUND);
    return { ctx, workers, candidates, next: 0, epoch, boundTo, failures: [], reservedOn };
  }

  /**
   * Jobs with max concurrent instances: count and claim under a per-job lock.
   * Free slots go to the job's due runs in (due_at, id) order: this run takes
   * one only in its turn, and the older runs ahead of it are started too.
   */
  private async dispatchLimited(
    ctx: DispatchContext,
    selection: Selection,
    workerId: string,
  ): Promise<void> {
    const { instance, spec } = ctx;
    const { claimed, ahead, failed } = await inTransaction<{
      claimed: Instance | null;
      ahead: string[];
      failed?: Instance | null;
    }>(this.pool, async (tx) => {
      // Serialises the count-then-claim of one job across servers.
      await tx.query('SELECT pg_advisory_xact_lock(1, $1::int)', [
        Number(BigInt(instance.jobId) % 2_147_483_647n),
      ]);
      const free = spec.maxConcurrentInstances - (await countActive(tx, instance.jobId));
      const turn = free > 0 ? await nextInLine(tx, instance.jobId, instance.id, free) : [];
      const ahead = turn.filter((id) => id !== instance.id);
      if (turn.includes(instance.id)) {
        const claimed = await claimForDispatch(tx, instance.id, workerId, null, runTimeoutMs(spec));
        return { claimed, ahead };
      }
      const reason = `job already runs ${spec.maxConcurrentInstances} instance(s) (maxConcurrentInstances)`;
      if (spec.concurrencyOverflow === 'FAIL')
        return { claimed: null, ahead, failed: await failWaiting(tx, instance.id, reason) };
      await queueForSlot(tx, instance.id, QUEUED_RECHECK_MS, reason);
      return { claimed: null, ahead };
    });
    if (failed) this.onFailed(failed);
    await Promise.all([
      claimed
        ? this.offerAll([
            this.newOffer(
              ctx,
              selection.ordered.map((w) => w.workerId),
              claimed.epoch,
              workerId,
            ),
          ])
        : undefined,
      ahead.length ? this.dispatch(ahead) : undefined,
    ]);
  }

  /** Starts the longest-waiting due run of a limited job, e.g. when one of its runs ended. */
  async startQueued(jobId: string): Promise<void> {
    try {
      const next = await nextInLine(this.pool, jobId, null, 1);
      if (next.length) await this.dispatch(next);
    } catch (err) {
      this.log.warn({ err, jobId }, 'could not start a queued run; its re-check will');
    }
  }

  /**
   * Offers runs in rounds: each run to its next candidate (claimed anew under
   * a new epoch unless already bound to it), ONE `run_jobs` per worker per
   * round; refused runs go on to their next candidate, and runs no candidate
   * took wait for a worker.
   */
  private async offerAll(offers: Offer[]): Promise<void> {
    let pending = offers;
    while (pending.length > 0) {
      const ready: Offer[] = [];
      await Promise.all(
        pending.map(async (o) => {
          const worker = o.candidates[o.next];
          if (worker === undefined) return this.giveUp(o);
          if (worker !== o.boundTo) {
            const { instance, spec } = o.ctx;
            const next = await claimForDispatch(
              this.pool,
              instance.id,
              worker,
              o.boundTo === null ? null : o.epoch,
              runTimeoutMs(spec),
            );
            if (!next) return; // stopped or taken over meanwhile
            o.epoch = next.epoch;
            o.boundTo = worker;
          }
          ready.push(o);
        }),
      );
      const byWorker = new Map<string, Offer[]>();
      for (const o of ready) {
        const key = `${o.ctx.app}\u0000${o.boundTo}`;
        const group = byWorker.get(key);
        if (group) group.push(o);
        else byWorker.set(key, [o]);
      }
      const refused: Offer[] = [];
      await Promise.all([...byWorker.values()].map((group) => this.offerToWorker(group, refused)));
      pending = refused;
    }
  }

  /** No candidate took the run: it waits, and is offered again after a backoff. */
  private async giveUp(o: Offer): Promise<void> {
    // A run sent ahead of its time waits at least until its time.
    const dueIn = o.ctx.instance.nextDispatchAt - this.clock.now();
    await waitForWorker(
      this.pool,
      o.ctx.instance.id,
      o.boundTo === null ? null : o.epoch,
      Math.max(dispatchBackoffMs(o.ctx.dispatchFailures), dueIn),
      o.failures.length
        ? `no worker accepted the run (${o.failures.join('; ')})`
        : 'no worker of this app is alive',
    );
  }

  /** Offers runs bound to one worker, in `run_jobs` messages; refused ones are added to `refused`. */
  private async offerToWorker(offers: Offer[], refused: Offer[]): Promise<void> {
    const first = offers[0] as Offer;
    const app = first.ctx.app;
    const worker = first.boundTo as string;
    // Runs ahead of their time start on the worker `startInMs` after receipt;
    // a worker that cannot hold them is passed over (it would start them at once).
    const timed = this.holdsTimedRuns(app, worker);
    const startIn = (o: Offer, now: number) => Math.round(o.ctx.instance.nextDispatchAt - now);
    const sendable: Offer[] = [];
    const now = this.clock.now();
    for (const o of offers) {
      if (startIn(o, now) <= ON_TIME_MS || timed) sendable.push(o);
      else {
        o.failures.push(`${worker}: cannot hold a run ahead of its time`);
        o.next++;
        refused.push(o);
      }
    }
    if (sendable.length === 0) return;
    // A worker that holds timed runs gets `startInMs` even a ms or two ahead
    // (sent at its time, the run would start that much before it).
    const messageAt = (now: number) => (o: Offer) => {
      const ahead = startIn(o, now);
      const held = ahead > ON_TIME_MS || (timed && ahead > 0);
      return runJobMessage(o.ctx, o.epoch, o.workers, held ? ahead : undefined);
    };
    const { chunks, tooLarge } = runBatches(sendable, messageAt(now), this.bus.maxPayload);
    const undeliverable = tooLarge.map(({ item, bytes }) =>
      this.failUndeliverable(
        item,
        `run_job is ${bytes} bytes, over NATS max_payload (${this.bus.maxPayload}): its jobParams and params are too large`,
      ),
    );
    // Until its next heartbeat, the worker counts as busier by what it was just
    // sent (runs reserved on it when they were picked are counted already).
    const unsent = new Set(tooLarge.map((t) => t.item));
    const fresh = sendable.filter((o) => o.reservedOn !== worker && !unsent.has(o)).length;
    this.registry.reserve(app, worker, fresh);
    await Promise.all([
      ...undeliverable,
      ...chunks.map(async (chunk) => {
        // `startInMs` counts from `sentAt`: measured from now, not from before
        // the batches were sized (500 runs: ~2 ms late). A whole millisecond,
        // so each run's `startInMs` (whole ms to its due time) is exact, and
        // runs due together but sent in different batches start together.
        const sentAt = Math.floor(this.clock.now());
        const message = messageAt(sentAt);
        const answers = await this.askRunJobs(
          app,
          worker,
          chunk.map((o) => ({ spec: o.ctx.spec, run: message(o) })),
          sentAt,
        );
        const accepted: Offer[] = [];
        const failing: Promise<void>[] = [];
        chunk.forEach((o, i) => {
          const answer = answers[i] as Answer;
          if (answer.kind === 'accepted') accepted.push(o);
          else if (answer.kind === 'undeliverable')
            failing.push(this.failUndeliverable(o, answer.why));
          else {
            o.failures.push(`${worker}: ${answer.why}`);
            o.next++;
            refused.push(o);
          }
        });
        this.recordAccepted(app, worker, accepted);
        await Promise.all(failing);
      }),
    ]);
  }

  private async failUndeliverable(o: Offer, reason: string): Promise<void> {
    // No worker can ever take it: fail now, not after waitingGiveUpMs.
    const failed = await failUndeliverable(this.pool, o.ctx.instance.id, o.epoch, reason);
    if (failed) this.onFailed(failed);
  }

  /** Holds accepted runs, to be written RUNNING unless they end first (see HeldAccepts). */
  private recordAccepted(app: string, worker: string, accepted: Offer[]): void {
    const now = this.clock.now();
    for (const o of accepted) o.acceptedAt = now;
    this.heldAccepts.hold(
      app,
      worker,
      accepted.map((o) => ({
        instanceId: o.ctx.instance.id,
        epoch: o.epoch,
        item: o,
      })),
    );
  }

  /** An instance's state was written (any server path): a held accept it makes moot is dropped. */
  instanceChanged(instance: Instance): void {
    this.heldAccepts.changed(instance.id, instance.epoch, instance.status);
  }

  /** Writes the accepts still held (the server is stopping). */
  close(): Promise<void> {
    return this.heldAccepts.close();
  }

  /** Records held accepts RUNNING in one write; the runs it did not find waiting are read in one query. */
  private async writeAccepted(app: string, worker: string, accepted: Offer[]): Promise<void> {
    try {
      await this.writeAcceptedOrThrow(app, worker, accepted);
    } catch (err) {
      this.log.warn({ err, worker, runs: accepted.length }, 'could not record accepted runs');
    }
  }

  private async writeAcceptedOrThrow(
    app: string,
    worker: string,
    accepted: Offer[],
  ): Promise<void> {
    if (accepted.length === 0) return;
    const write = () =>
      markAcceptedMany(
        this.pool,
        accepted.map((o) => ({ id: o.ctx.instance.id, epoch: o.epoch, acceptedAt: o.acceptedAt })),
      );
    // The worker runs them now: losing this write to a database fault would get them run
    // twice. Once the server stops, one try: the sweeper finds an accept lost then.
    const started = this.stopping?.aborted
      ? await write()
      : await retryWhileUnavailable(
          this.pool,
          write,
          this.log,
          `recording that ${worker} accepted ${accepted.length} run(s)`,
          this.stopping,
        );
    const recorded = new Set<string>();
    for (const instance of started ?? []) {
      recorded.add(instance.id);
      this.onStarted(instance);
    }
    const unrecorded = accepted.filter((o) => !recorded.has(o.ctx.instance.id));
    if (unrecorded.length === 0) return;
    // Written meanwhile at its epoch (RUNNING by a report, ended, stopped, handed
    // back; on any server) is that TaskTracker's own story. Taken over by another
    // epoch, or gone, means this TaskTracker must stop.
    const epochs = await currentEpochs(
      this.pool,
      unrecorded.map((o) => o.ctx.instance.id),
    );
    await Promise.all(
      unrecorded
        .filter((o) => epochs.get(o.ctx.instance.id) !== o.epoch)
        .map((o) =>
          this.stopTracker(app, worker, o.ctx.instance.id, o.epoch, 'instance taken over or gone'),
        ),
    );
  }

  /** One answer per run, in order; a worker that does not serve `run_jobs` (an older one) is asked run by run. */
  private async askRunJobs(
    app: string,
    workerId: string,
    items: { spec: JobSpec; run: RunJob }[],
    sentAt: number,
  ): Promise<Answer[]> {
    const runs = items.map((i) => i.run);
    try {
      const batch = this.registry.get(app, workerId)?.compactRuns ? compactRuns(items) : { runs };
      const reply = await this.bus.ask(
        routes.tt.runJobs,
        { app, workerId },
        { ...batch, sentAt, senderClock: this.clock.id },
        { stampSentAt: () => this.clock.now() },
      );
      const byId = new Map(reply.results.map((r) => [r.instanceId, r]));
      return runs.map((run): Answer => {
        const r = byId.get(run.instanceId);
        if (!r) return { kind: 'refused', why: 'no answer for this run' };
        if (r.accepted) return { kind: 'accepted' };
        if (r.fenced) return { kind: 'refused', why: 'FENCED' };
        return { kind: 'refused', why: `refused (${r.reason ?? 'no reason'})` };
      });
    } catch (err) {
      if (err instanceof NoRespondersError)
        return Promise.all(runs.map((run) => this.askRunJob(app, workerId, run)));
      const why = err instanceof DroverError ? err.code : (err as Error).message;
      return runs.map(() => ({ kind: 'refused', why }));
    }
  }

  private async askRunJob(app: string, workerId: string, run: RunJob): Promise<Answer> {
    try {
      const reply = await this.bus.ask(routes.tt.runJob, { app, workerId }, run);
      return reply.accepted
        ? { kind: 'accepted' }
        : { kind: 'refused', why: `refused (${reply.reason ?? 'no reason'})` };
    } catch (err) {
      if (err instanceof PayloadTooLargeError)
        return {
          kind: 'undeliverable',
          why: `run_job is ${err.size} bytes, over NATS max_payload (${err.maxPayload} usable): its jobParams and params are too large`,
        };
      return {
        kind: 'refused',
        why: err instanceof DroverError ? err.code : (err as Error).message,
      };
    }
  }

  /**
   * The progress of the TaskTracker running this instance under this epoch,
   * or null when that worker has none (or does not answer): whether a dispatch
   * nobody recorded as accepted was in fact accepted.
   */
  async trackerRunning(
    app: string,
    workerId: string,
    instanceId: string,
    epoch: number,
  ): Promise<Instance['progress'] | null> {
    try {
      const reply = await this.bus.ask(
        routes.tt.queryInstanceStatus,
        { app, workerId },
        { instanceId },
      );
      return reply.epoch === epoch ? reply.progress : null;
    } catch (err) {
      this.log.debug(
        { err, instanceId, workerId },
        'TaskTracker did not confirm it runs the instance',
      );
      return null;
    }
  }

  /** Whether the worker's last heartbeat (within the dead bound) lists the instance as its own. */
  heldBy(app: string, workerId: string, instanceId: string): boolean {
    return this.registry.tracks(app, workerId, instanceId);
  }

  /** Best effort: tells a TaskTracker to stop; it also learns from rejected reports. */
  async stopTracker(
    app: string,
    workerId: string,
    instanceId: string,
    epoch: number | undefined,
    reason: string,
  ): Promise<void> {
    try {
      await this.bus.ask(routes.tt.stopInstance, { app, workerId }, { instanceId, epoch, reason });
    } catch (err) {
      this.log.debug({ err, instanceId, workerId }, 'could not tell TaskTracker to stop');
    }
  }
}
