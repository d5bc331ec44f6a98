import { appOfSubject, type routes } from '@drover/protocol';
import type { HandlerFn } from '@drover/transport';
import type pg from 'pg';
import type { InstanceEvents } from '../lifecycle/instance-events.js';
import { settleMany, settleOne } from '../lifecycle/settle-many.js';
import type { FinalRow } from '../store/instance-transitions.js';
import { toStorableJson } from '../store/storable-text.js';
import type { InstanceOwners } from './instance-owners.js';

type ReportFinals = typeof routes.server.reportFinals;
type Answer = { instanceId: string; accepted: boolean; stop: boolean; reason?: string };

const NOT_HERE = 'no such instance in this app';

/**
 * `report_finals`: a worker's final reports, many runs in one message. The
 * batch is settled by one statement where it can (see `settleMany`); each
 * report is answered exactly as `report_instance_status` answers it alone.
 * A batch sent again (same key after a lost reply, or the same reports)
 * finds its runs final with the same epoch and status: duplicates, accepted,
 * nothing settled twice.
 */
export function finalReportsHandler(deps: {
  pool: pg.Pool;
  events: InstanceEvents;
  owners: InstanceOwners;
  requireKnownWorker: (app: string, workerId: string) => void;
}): HandlerFn<ReportFinals> {
  const { pool, events, owners } = deps;
  return async (req, ctx) => {
    const app = appOfSubject(ctx.subject);
    deps.requireKnownWorker(app, req.workerId);
    const finals: FinalRow[] = req.reports.map((r) => ({
      id: r.instanceId,
      epoch: r.epoch,
      status: r.status,
      result: r.result === undefined ? undefined : toStorableJson(r.result),
      progress: r.progress,
      startedAt: r.startedAt,
      nonRetryable: r.status === 'FAILED' && r.nonRetryable === true,
      contextUpdate: r.status === 'SUCCEEDED' ? r.contextUpdate : undefined,
    }));
    const batch = await settleMany(pool, app, finals);
    const results: Answer[] = [];
    for (const [i, f] of finals.entries()) {
      const b = batch[i];
      if (b?.kind === 'final') {
        if (b.started) events.changed(b.started);
        events.changed(b.instance);
        results.push({ instanceId: f.id, accepted: true, stop: false });
        continue;
      }
      if (b?.kind === 'duplicate') {
        results.push({ instanceId: f.id, accepted: true, stop: false });
        continue;
      }
      // Retries, stale epochs, other apps' ids: one by one, as report_instance_status does.
      if ((await owners.app(f.id)) !== app) {
        ctx.refused(NOT_HERE);
        results.push({ instanceId: f.id, accepted: false, stop: true, reason: NOT_HERE });
        continue;
      }
      const settled = await settleOne(pool, f);
      if (settled.kind === 'rejected') {
        results.push({ instanceId: f.id, accepted: false, stop: true, reason: settled.reason });
        continue;
      }
      if (settled.kind !== 'duplicate') {
        if (settled.started) events.changed(settled.started);
        events.changed(settled.instance);
      }
      results.push({ instanceId: f.id, accepted: true, stop: false });
    }
    return { results };
  };
}
