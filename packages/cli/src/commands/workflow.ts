import { apiViews } from '@drover/protocol';
import type { Command } from 'commander';
import { z } from 'zod';
import { CliError, Exit } from '../client/exit-codes.js';
import { resultText } from '../output/result-text.js';
import { table, when } from '../output/table.js';
import { type Connection, connect, type GlobalOptions, jsonFlag, print } from './context.js';
import { specFile } from './job-spec-flags.js';
import { waitForWorkflowRun } from './wait-for-workflow-run.js';

const WorkflowList = z.object({
  workflows: z.array(apiViews.WorkflowView),
  next: z.string().nullable(),
});
const RunList = z.object({ runs: z.array(apiViews.WorkflowRunView), next: z.string().nullable() });
type Workflow = z.output<typeof apiViews.WorkflowView>;
type RunDetail = z.output<typeof apiViews.WorkflowRunDetailView>;

const RUN_STATUSES = ['WAITING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'STOPPED'];

export function workflowCommands(program: Command, globals: () => GlobalOptions): void {
  const workflow = program
    .command('workflow')
    .description('create, inspect and run workflows (DAGs of jobs, decisions, nested workflows)');

  workflow
    .command('create')
    .description('create a workflow from a YAML or JSON file (see docs/workflows.md)')
    .requiredOption('-f, --file <path>', 'the workflow spec (.yaml, .yml or .json)')
    .action(async (o: { file: string }) => {
      const conn = await connect(globals());
      const spec = await specFile(o.file, 'workflow');
      const w = await conn.api.call(
        apiViews.WorkflowView,
        'POST',
        appPath(conn, '/workflows'),
        spec,
      );
      print(conn, w, () => `workflow ${w.id} created (${w.name})`);
    });

  workflow
    .command('update <workflowId>')
    .description('replace a workflow’s spec from a file (runs under way keep theirs)')
    .requiredOption('-f, --file <path>', 'the workflow spec (.yaml, .yml or .json)')
    .action(async (id: string, o: { file: string }) => {
      const conn = await connect(globals());
      const spec = await specFile(o.file, 'workflow');
      const w = await conn.api.call(
        apiViews.WorkflowView,
        'PUT',
        appPath(conn, `/workflows/${seg(id)}`),
        spec,
      );
      print(conn, w, () => `workflow ${w.id} updated (${w.name})`);
    });

  workflow
    .command('list')
    .description('list the app’s workflows')
    .action(async () => {
      const conn = await connect(globals());
      const { workflows } = await conn.api.call(
        WorkflowList,
        'GET',
        appPath(conn, '/workflows?limit=1000'),
      );
      print(conn, workflows, () =>
        table(
          ['ID', 'NAME', 'NODES', 'SCHEDULE', 'ENABLED'],
          workflows.map((w) => [w.id, w.name, nodesOf(w).length, scheduleText(w), yes(w.enabled)]),
        ),
      );
    });

  workflow
    .command('show <workflowId>')
    .description('a workflow’s nodes, edges and next fire times')
    .action(async (id: string) => {
      const conn = await connect(globals());
      const w = await conn.api.call(
        apiViews.WorkflowView,
        'GET',
        appPath(conn, `/workflows/${seg(id)}`),
      );
      print(conn, w, () => showWorkflow(w));
    });

  for (const [verb, summary] of [
    ['enable', 'enable a workflow: its schedule fires again'],
    ['disable', 'disable a workflow: its schedule stops firing (runs under way go on)'],
  ] as const) {
    workflow
      .command(`${verb} <workflowId>`)
      .description(summary)
      .action(async (id: string) => {
        const conn = await connect(globals());
        const w = await conn.api.call(
          apiViews.WorkflowView,
          'POST',
          appPath(conn, `/workflows/${seg(id)}/${verb}`),
        );
        print(conn, w, () => `workflow ${w.id} ${verb}d (${w.name})`);
      });
  }

  workflow
    .command('delete <workflowId>')
    .description('delete a workflow and its finished runs (refused while runs are unfinished)')
    .action(async (id: string) => {
      const conn = await connect(globals());
      await conn.api.call(z.null(), 'DELETE', appPath(conn, `/workflows/${seg(id)}`));
      print(conn, { id, deleted: true }, () => `workflow ${id} deleted`);
    });

  workflow
    .command('run <workflowId> [runId]')
    .description(
      'run a workflow now; with --wait, follow it node by node to its end (exit 1 unless it ' +
        'succeeds). `run show <runId>`: a run with each node’s status, instance and result',
    )
    .option(
      '--params <json>',
      'the run’s init params as JSON (an object is its starting context); @file reads a file, @- stdin',
    )
    .option(
      '--idempotency-key <key>',
      'a run with a key already used for this workflow is not made again: the first one is shown',
    )
    .option('--wait', 'show each node’s progress until the run ends')
    .action(async (target: string, runId: string | undefined, o: RunOptions) => {
      const conn = await connect(globals());
      if (target === 'show') {
        if (!runId) throw new CliError('which run? `drover workflow run show <runId>`', Exit.USAGE);
        return showRun(conn, runId);
      }
      if (runId !== undefined)
        throw new CliError(`unexpected argument "${runId}" after the workflow id`, Exit.USAGE);
      const run = await conn.api.call(
        apiViews.WorkflowRunView,
        'POST',
        appPath(conn, `/workflows/${seg(target)}/run`),
        { initParams: await jsonFlag('--params', o.params), idempotencyKey: o.idempotencyKey },
      );
      if (!o.wait) {
        print(conn, run, () => `workflow run ${run.id} ${run.status.toLowerCase()}`);
        return;
      }
      const done = await waitForWorkflowRun(conn, run.id);
      print(conn, done, () => runSummary(done));
      if (done.status !== 'SUCCEEDED') process.exitCode = Exit.RUN_FAILED;
    });

  for (const [verb, summary] of [
    ['stop', 'stop a workflow run: it ends STOPPED, its running nodes are stopped'],
    [
      'retry',
      'retry a FAILED or STOPPED run in place: only its failed and stopped nodes run again',
    ],
  ] as const) {
    workflow
      .command(`${verb} <runId>`)
      .description(summary)
      .action(async (runId: string) => {
        const conn = await connect(globals());
        const run = await conn.api.call(
          apiViews.WorkflowRunView,
          'POST',
          appPath(conn, `/workflow-runs/${seg(runId)}/${verb}`),
        );
        print(conn, run, () => `workflow run ${run.id} ${run.status.toLowerCase()}`);
      });
  }

  workflow
    .command('mark-success <runId> <nodeId>')
    .description('mark a FAILED node succeeded: the run goes on as if it had')
    .action(async (runId: string, nodeId: string) => {
      const conn = await connect(globals());
      const run = await conn.api.call(
        apiViews.WorkflowRunView,
        'POST',
        appPath(conn, `/workflow-runs/${seg(runId)}/nodes/${seg(nodeId)}/mark-success`),
      );
      print(
        conn,
        run,
        () => `node ${nodeId} marked succeeded; run ${run.id} ${run.status.toLowerCase()}`,
      );
    });

  const runs = workflow.command('runs').description('workflow runs');
  runs
    .command('list')
    .description('workflow runs, newest first')
    .option('--workflow <workflowId>', 'only this workflow’s runs')
    .option('--status <status>', `only runs in this status (${RUN_STATUSES.join(', ')})`)
    .option('--limit <n>', 'at most this many (1-1000)', '50')
    .action(async (o: { workflow?: string; status?: string; limit: string }) => {
      const conn = await connect(globals());
      const status = o.status?.toUpperCase();
      if (status !== undefined && !RUN_STATUSES.includes(status))
        throw new CliError(`--status must be one of ${RUN_STATUSES.join(', ')}`, Exit.USAGE, {
          issues: [{ path: '--status', message: `must be one of ${RUN_STATUSES.join(', ')}` }],
        });
      const query = new URLSearchParams({ limit: o.limit });
      if (o.workflow) query.set('workflowId', o.workflow);
      if (status) query.set('status', status);
      const { runs: list } = await conn.api.call(
        RunList,
        'GET',
        appPath(conn, `/workflow-runs?${query}`),
      );
      print(conn, list, () =>
        table(
          ['RUN', 'WORKFLOW', 'STATUS', 'TRIGGER', 'CREATED', 'FINISHED', 'REASON'],
          list.map((r) => [
            r.id,
            r.workflowId,
            r.status,
            r.triggerType,
            when(r.createdAt),
            when(r.finishedAt),
            r.reason ?? '',
          ]),
        ),
      );
    });
  runs
    .command('show <runId>')
    .description('a run with each node’s status, instance and result (as `run show`)')
    .action(async (runId: string) => showRun(await connect(globals()), runId));
}

interface RunOptions {
  params?: string;
  idempotencyKey?: string;
  wait?: boolean;
}

async function showRun(conn: Connection, runId: string): Promise<void> {
  const run = await conn.api.call(
    apiViews.WorkflowRunDetailView,
    'GET',
    appPath(conn, `/workflow-runs/${seg(runId)}`),
  );
  print(conn, run, () => runSummary(run));
}

/** A run's status line, its context, then a table of its nodes. */
export function runSummary(run: RunDetail): string {
  return [
    `workflow run ${run.id} (workflow ${run.workflowId}): ${run.status}${run.reason ? `: ${run.reason}` : ''}`,
    `context: ${JSON.stringify(run.context)}`,
    table(
      ['NODE', 'KIND', 'STATUS', 'ATTEMPT', 'INSTANCE', 'RESULT'],
      run.nodes.map((n) => [
        n.nodeId,
        n.kind,
        n.markedSuccess ? `${n.status} (marked)` : n.status,
        n.attempt,
        n.instanceId ?? (n.childRunId ? `run ${n.childRunId}` : ''),
        resultText(n.result) ?? n.reason ?? '',
      ]),
    ),
  ].join('\n');
}

function showWorkflow(w: Workflow): string {
  const edges = Array.isArray(w.spec.edges)
    ? (w.spec.edges as { from: string; to: string; when?: boolean }[])
    : [];
  return [
    `workflow ${w.id}: ${w.name} (${w.enabled ? 'enabled' : 'disabled'})`,
    `schedule: ${scheduleText(w)}`,
    'nodes:',
    ...nodesOf(w).map((n) => `  ${n.id}: ${n.kind} ${nodeTarget(n)}`),
    'edges:',
    ...(edges.length
      ? edges.map((e) => `  ${e.from} → ${e.to}${e.when === undefined ? '' : ` when ${e.when}`}`)
      : ['  none']),
    `next fire times: ${w.nextFireTimes?.length ? w.nextFireTimes.map(when).join(', ') : 'none'}`,
  ].join('\n');
}

type NodeLike = { id: string; kind: string; [k: string]: unknown };

function nodesOf(w: Workflow): NodeLike[] {
  return Array.isArray(w.spec.nodes) ? (w.spec.nodes as NodeLike[]) : [];
}

/** What a node runs: `extract (id 1)` for a job, the expression of a decision, a wait's time. */
function nodeTarget(n: NodeLike): string {
  const id = (ref: unknown) => (ref === undefined ? '' : ` (id ${String(ref)})`);
  if (n.kind === 'job') return `${String(n.job)}${id(n.jobId)}`;
  if (n.kind === 'workflow') return `${String(n.workflow)}${id(n.workflowId)}`;
  if (n.kind === 'decision') return String(n.expression);
  return n.delayMs !== undefined ? `${String(n.delayMs)} ms` : `until ${String(n.until)}`;
}

function scheduleText(w: Workflow): string {
  const s = (w.spec.schedule ?? {}) as { type?: string; expression?: string; timeZone?: string };
  return s.type === 'CRON' ? `CRON ${s.expression} (${s.timeZone})` : (s.type ?? 'API');
}

const yes = (b: boolean) => (b ? 'yes' : 'no');

function appPath(conn: Connection, rest: string): string {
  return `/apps/${seg(conn.app)}${rest}`;
}

function seg(value: string): string {
  return encodeURIComponent(value);
}
