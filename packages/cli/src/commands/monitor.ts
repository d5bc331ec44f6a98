import type { DroverEvent } from '@drover/protocol';
import { connectNats, subscribeEvents } from '@drover/transport';
import { createInbox, type NatsConnection } from '@nats-io/nats-core';
import type { Command } from 'commander';
import { pino } from 'pino';
import { z } from 'zod';
import { CliError, Exit } from '../client/exit-codes.js';
import { resultText } from '../output/result-text.js';
import { stateName } from '../output/states.js';
import { progressText, table, when } from '../output/table.js';
import { stdoutIsTerminal } from '../output/terminal.js';
import { type GlobalOptions, natsUrl } from './context.js';
import { type NatsCredentialFlags, natsConnectError, natsCredentials } from './nats-credentials.js';

// The monitor's replies come on its own inboxes, the only ones its NATS user may read.
const INBOX_PREFIX = '_INBOX_MON';

const FINAL = ['SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED'];
const REDRAW_MS = 1_000;
// Workers that joined before the monitor started are found by a `$SRV.PING`,
// repeated now and then; answers come within this window.
const PING_EVERY_MS = 5_000;
const PING_WINDOW_MS = 500;

const Pong = z.object({
  type: z.literal('io.nats.micro.v1.ping_response'),
  name: z.string(),
  metadata: z.record(z.string(), z.string()).optional(),
});

/** Asks every drover-worker to answer (NATS services protocol) and records those of `app`. */
function pingWorkers(
  nc: NatsConnection,
  app: string,
  view: View,
  onFound: (workerId: string) => void,
): void {
  const inbox = createInbox(INBOX_PREFIX);
  const sub = nc.subscribe(inbox, {
    callback: (_err, msg) => {
      let raw: unknown;
      try {
        raw = msg.json();
      } catch {
        return;
      }
      const pong = Pong.safeParse(raw);
      const workerId = pong.success ? pong.data.metadata?.workerId : undefined;
      const workerApp = pong.success ? pong.data.metadata?.app : undefined;
      if (!workerId || (app !== '*' && workerApp !== app)) return;
      const known = view.workers.get(workerId);
      if (!known) onFound(workerId);
      if (known?.state !== 'joined')
        view.workers.set(workerId, { state: 'alive (ping)', at: Date.now() });
    },
  });
  setTimeout(() => sub.unsubscribe(), PING_WINDOW_MS);
  nc.publish('$SRV.PING.drover-worker', '', { reply: inbox });
}

interface View {
  workers: Map<string, { state: string; at: number }>;
  running: Map<
    string,
    {
      jobId: string;
      status: string;
      workerId: string | null;
      progress?: { total: number; succeeded: number; failed: number };
    }
  >;
  finished: { instanceId: string; status: string; result: string | null; at: number }[];
  /** Workflow runs seen, newest last: status and each node's status. */
  workflowRuns: Map<string, { workflowId: string; status: string; nodes: Map<string, string> }>;
}

const WORKFLOW_RUNS_SHOWN = 10;

/** Folds a workflow-run or workflow-node event into the view. */
function applyWorkflow(
  view: View,
  e: Extract<DroverEvent, { type: 'workflow-run' | 'workflow-node' }>,
): void {
  const run = view.workflowRuns.get(e.runId) ?? {
    workflowId: e.workflowId,
    status: 'RUNNING',
    nodes: new Map<string, string>(),
  };
  if (e.type === 'workflow-run') run.status = e.status;
  else run.nodes.set(e.nodeId, e.status);
  view.workflowRuns.set(e.runId, run);
  for (const id of view.workflowRuns.keys()) {
    if (view.workflowRuns.size <= WORKFLOW_RUNS_SHOWN) break;
    view.workflowRuns.delete(id);
  }
}

/** Folds one event into the view: the monitor knows only what events told it. */
function apply(view: View, e: DroverEvent): void {
  if (e.type === 'workflow-run' || e.type === 'workflow-node') {
    applyWorkflow(view, e);
    return;
  }
  if (e.type === 'worker') view.workers.set(e.workerId, { state: e.state, at: e.at });
  else if (e.type === 'instance') {
    if (FINAL.includes(e.status)) {
      view.running.delete(e.instanceId);
      view.finished.unshift({
        instanceId: e.instanceId,
        status: e.status,
        result: resultText(e.result) ?? e.reason,
        at: e.at,
      });
      view.finished.length = Math.min(view.finished.length, 10);
    } else {
      const known = view.running.get(e.instanceId);
      view.running.set(e.instanceId, {
        ...known,
        jobId: e.jobId,
        status: e.status,
        workerId: e.workerId,
      });
    }
  } else if (e.type === 'progress') {
    const known = view.running.get(e.instanceId);
    view.running.set(e.instanceId, {
      jobId: known?.jobId ?? '?',
      status: known?.status ?? 'RUNNING',
      workerId: e.workerId,
      progress: e.progress,
    });
  }
}

function render(app: string, view: View): string {
  return [
    `drover monitor: app ${app}, ${when(Date.now())} (Ctrl-C to quit)`,
    '',
    'WORKERS',
    table(
      ['WORKER', 'STATE', 'SINCE'],
      [...view.workers].map(([id, w]) => [id, w.state, when(w.at)]),
    ),
    '',
    'RUNNING INSTANCES',
    table(
      ['INSTANCE', 'JOB', 'STATUS', 'WORKER', 'TASKS'],
      [...view.running].map(([id, r]) => [
        id,
        r.jobId,
        r.status,
        r.workerId,
        progressText(r.progress ?? null),
      ]),
    ),
    '',
    'RECENTLY FINISHED',
    table(
      ['INSTANCE', 'STATUS', 'AT', 'RESULT'],
      view.finished.map((f) => [f.instanceId, f.status, when(f.at), (f.result ?? '').slice(0, 60)]),
    ),
    '',
    'WORKFLOW RUNS',
    table(
      ['RUN', 'WORKFLOW', 'STATUS', 'NODES'],
      [...view.workflowRuns].map(([id, r]) => [
        id,
        r.workflowId,
        r.status,
        [...r.nodes].map(([node, status]) => `${node}=${status}`).join(' '),
      ]),
    ),
  ].join('\n');
}

/** One event as a plain line, for a pipe or a log file (no redraws, no escape codes). */
function eventLine(e: DroverEvent): string {
  if (e.type === 'worker') return `${when(e.at)} worker ${e.workerId} ${e.state}`;
  if (e.type === 'instance') {
    const detail = resultText(e.result) ?? e.reason;
    return `${when(e.at)} instance ${e.instanceId} of job ${e.jobId} ${stateName(e.status)}${e.workerId ? ` on ${e.workerId}` : ''}${detail ? `: ${detail.slice(0, 200)}` : ''}`;
  }
  if (e.type === 'workflow-run')
    return `${when(e.at)} workflow run ${e.runId} of workflow ${e.workflowId} ${e.status}${e.reason ? `: ${e.reason.slice(0, 200)}` : ''}`;
  if (e.type === 'workflow-node')
    return `${when(e.at)} workflow run ${e.runId} node ${e.nodeId} ${e.status}${e.instanceId ? ` (instance ${e.instanceId})` : ''}`;
  if (e.type === 'log')
    return e.lines
      .map(
        (l) => `${when(l.ts)} instance ${e.instanceId} log ${l.level}: ${l.message.slice(0, 200)}`,
      )
      .join('\n');
  return `${when(Date.now())} instance ${e.instanceId} tasks ${progressText(e.progress)}`;
}

export function monitorCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('monitor')
    .description('live view of workers, running instances and progress, from NATS events only')
    .option('--nats <url>', 'NATS to watch (DROVER_NATS_URL; default: the running `drover up`)')
    .option(
      '--nats-nkey-file <path>',
      'monitor nkey seed file (DROVER_NATS_NKEY_FILE; default: the running `drover up`’s)',
    )
    .option(
      '--insecure-nats',
      'accept a NATS without authentication (DROVER_INSECURE_NATS=1); see docs/security.md',
    )
    .action(async (o: { nats?: string } & NatsCredentialFlags) => {
      const g = globals();
      const url = await natsUrl({ ...g, nats: o.nats });
      const app = g.app ?? process.env.DROVER_APP ?? '*';
      const log = pino({ level: 'warn' }, pino.destination(2));
      const credentials = await natsCredentials({ ...g, ...o }, url, 'monitor', log);
      const nc = await connectNats({
        servers: url,
        name: 'drover-monitor',
        log,
        nkeySeed: credentials.nkeySeed,
        insecureNats: credentials.insecureNats,
        inboxPrefix: INBOX_PREFIX,
        failOnAuthError: true,
      }).catch((err: unknown) => {
        throw natsConnectError(err, url);
      });
      const view: View = {
        workers: new Map(),
        running: new Map(),
        finished: [],
        workflowRuns: new Map(),
      };
      // A terminal gets the view redrawn in place; a pipe gets one line per event.
      const live = !g.json && stdoutIsTerminal();
      // NATS refuses a key without the permission (a worker's key) after the SUB, before the flush's PONG.
      let refused: Error | undefined;
      subscribeEvents(
        nc,
        app,
        (e) => {
          if (g.json) console.log(JSON.stringify(e));
          else if (!live) console.log(eventLine(e));
          apply(view, e);
        },
        log,
        (err) => {
          refused = err;
        },
      );
      await nc.flush();
      if (refused) {
        await nc.close();
        throw new CliError(
          `NATS at ${url} refused this key the events of ${app === '*' ? 'every app' : `app ${app}`} ` +
            `(${refused.message}): monitor with the monitor key (--nats-nkey-file, or --data-dir of the running \`drover up\`; see docs/monitoring.md)`,
          Exit.UNAUTHORIZED,
        );
      }
      if (!live) console.error(`watching drover.${app}.events.> on ${url}`);
      const found = (workerId: string) => {
        if (!live && !g.json) console.log(`${when(Date.now())} worker ${workerId} alive (ping)`);
      };
      pingWorkers(nc, app, view, found);
      const pinger = setInterval(() => pingWorkers(nc, app, view, found), PING_EVERY_MS);
      const timer = live
        ? setInterval(() => process.stdout.write(`\x1b[2J\x1b[H${render(app, view)}\n`), REDRAW_MS)
        : undefined;
      await new Promise<void>((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
      });
      clearInterval(timer);
      clearInterval(pinger);
      await nc.close();
    });
}
