import { routes, type ttMessages } from '@drover/protocol';
import type { Bus } from '@drover/transport';
import type { z } from 'zod/v4';
import { valueBytes } from '../value-bytes.js';
import type { DispatchedTask } from './task-store.js';

type RunJob = z.output<typeof ttMessages.RunJob>;

/** Room in a message for everything but the tasks and params (ids, names, envelope, headers). */
const MESSAGE_OVERHEAD_BYTES = 8 * 1024;
// Per task besides its payload and ids: attempt and msgpack framing.
const PER_TASK_BYTES = 32;

function taskBytes(t: DispatchedTask): number {
  return PER_TASK_BYTES + t.taskId.length + t.taskName.length + valueBytes(t.payload);
}

/**
 * Sends a run's tasks to a ProcessorTracker in `start_tasks` messages cut by
 * bytes as well as count, so no message passes NATS's max_payload; the run's
 * params go once per ProcessorTracker, not with every batch (a ProcessorTracker
 * that has none, new or stopped idle, asks for them again).
 */
export class StartTasksSender {
  private readonly paramsBytes: number;
  /** Workers whose ProcessorTracker for this run has the params. */
  private readonly hasParams = new Set<string>();

  constructor(
    private readonly bus: Bus,
    private readonly app: string,
    private readonly taskTrackerWorkerId: string,
    private readonly run: RunJob,
  ) {
    this.paramsBytes =
      valueBytes(run.jobParams) + valueBytes(run.instanceParams) + valueBytes(run.workflow ?? null);
  }

  /** Sends the tasks; resolves with those the ProcessorTracker refused (its worker drains). Throws when unreachable. */
  async send(worker: string, tasks: DispatchedTask[]): Promise<DispatchedTask[]> {
    let from = 0;
    while (from < tasks.length) {
      const withParams = !this.hasParams.has(worker);
      const budget =
        this.bus.maxPayload - MESSAGE_OVERHEAD_BYTES - (withParams ? this.paramsBytes : 0);
      let to = from;
      let bytes = 0;
      while (to < tasks.length) {
        bytes += taskBytes(tasks[to] as DispatchedTask);
        if (bytes > budget && to > from) break;
        if (bytes > budget && withParams) break; // params alone first, then the task
        to++;
      }
      const batch = tasks.slice(from, to);
      const reply = await this.ask(worker, batch, withParams);
      if (reply.needsParams) {
        this.hasParams.delete(worker);
        continue; // the same tasks again, with the params
      }
      if (withParams) this.hasParams.add(worker);
      // Tasks it had started before (a retried send) are its own still.
      if (reply.accepted + (reply.duplicates ?? 0) < batch.length) return tasks.slice(from);
      from = to;
    }
    return [];
  }

  private ask(worker: string, tasks: DispatchedTask[], withParams: boolean) {
    const { run } = this;
    return this.bus.ask(
      routes.pt.startTasks,
      { app: this.app, workerId: worker },
      {
        instanceId: run.instanceId,
        epoch: run.epoch,
        taskTrackerWorkerId: this.taskTrackerWorkerId,
        processorName: run.processorName,
        jobId: run.jobId,
        concurrency: run.concurrencyPerWorker ?? 5,
        jobParams: withParams ? run.jobParams : null,
        instanceParams: withParams ? run.instanceParams : null,
        paramsOmitted: withParams ? undefined : true,
        workflow: withParams ? run.workflow : undefined,
        runAttempt: run.runAttempt,
        tasks,
      },
    );
  }
}
