import { contextBytes, type JsonValue, MAX_CONTEXT_BYTES } from '@drover/protocol';
import type pg from 'pg';
import type { JobSpec } from '../jobs/job-spec.js';
import type { RunIntake, RunRequest } from '../lifecycle/run-intake.js';
import { evaluateDecision } from './decision.js';
import { activeNodes, allDone, failingNode, readiness } from './edge-rules.js';
import {
  finishRun,
  getNodes,
  insertRun,
  isFinalRun,
  type NodeRow,
  type NodeStatus,
  RUN_COLUMNS,
  type RunRow,
  type RunStatus,
  setNode,
} from './store/workflow-runs.js';
import { MAX_WORKFLOW_DEPTH, type WorkflowSpec } from './workflow-spec.js';

// One advance of one run, inside a transaction that holds the run's row lock:
// start what is ready, pass over what is not taken, end the run when it is
// done. It changes only this run's row, its not-yet-running nodes, and new
// rows (instances, child runs): whatever else must change (stopping running
// instances and child runs) is returned for after the commit, so a node's
// trigger (which locks node then run) never waits on this in a cycle.

export interface NodeChange {
  nodeId: string;
  status: NodeStatus;
  instanceId: string | null;
  childRunId: string | null;
}

export interface Advanced {
  run: { id: string; appId: string; app: string; workflowId: string };
  /** The run's new status, when this advance changed it. */
  runStatus?: { status: RunStatus; reason: string | null };
  nodes: NodeChange[];
  /** Dispatches the node runs created (after the commit). */
  handOffs: (() => void)[];
  /** Unfinished instances of nodes to stop (a failed or stopped run). */
  stopInstances: string[];
  /** Unfinished child runs to stop. */
  stopRuns: string[];
  /** Queued runs of the workflow promoted to RUNNING. */
  promoted: string[];
  /** The earliest due time of a waiting node, for its timer. */
  nextDueAt?: Date;
}

type LockedRun = RunRow & { app: string };

/** Locks a run that needs advancing (skipped while another server advances it). */
async function lockForAdvance(tx: pg.PoolClient, runId: string): Promise<LockedRun | null> {
  const { rows } = await tx.query<LockedRun>(
    `SELECT ${RUN_COLUMNS.split(', ')
      .map((c) => `r.${c}`)
      .join(', ')}, a.name AS app
     FROM workflow_runs r JOIN apps a ON a.id = r.app_id
     WHERE r.id = $1 AND r.needs_advance FOR UPDATE OF r SKIP LOCKED`,
    [runId],
  );
  return rows[0] ?? null;
}

export async function advanceRun(
  tx: pg.PoolClient,
  runId: string,
  intake: RunIntake,
): Promise<Advanced | null> {
  const run = await lockForAdvance(tx, runId);
  if (!run) return null;
  const out: Advanced = {
    run: { id: run.id, appId: run.app_id, app: run.app, workflowId: run.workflow_id },
    nodes: [],
    handOffs: [],
    stopInstances: [],
    stopRuns: [],
    promoted: [],
  };
  const nodes = await getNodes(tx, run);
  const byId = new Map(nodes.map((n) => [n.node_id, n]));
  const set = async (node: NodeRow, fields: Parameters<typeof setNode>[3]) => {
    await setNode(tx, run.id, node.node_id, fields);
    node.status = fields.status;
    if (fields.result !== undefined) node.result = fields.result;
    if (fields.reason !== undefined) node.reason = fields.reason;
    if (fields.instanceId) node.instance_id = fields.instanceId;
    if (fields.childRunId) node.child_run_id = fields.childRunId;
    if (fields.dueAt) node.due_at = fields.dueAt;
    out.nodes.push({
      nodeId: node.node_id,
      status: node.status,
      instanceId: node.instance_id,
      childRunId: node.child_run_id,
    });
  };

  if (isFinalRun(run.status)) {
    await windDown(run, nodes, set, out);
  } else if (run.status === 'RUNNING') {
    const now = await dbNow(tx);
    await startReady(tx, run, nodes, byId, now, set, out, intake);
    const ended = endOf(run, nodes);
    if (ended) {
      await finishRun(tx, run.id, ended.status, ended.reason);
      out.runStatus = ended;
      if (ended.status !== 'SUCCEEDED') await windDown(run, nodes, set, out);
    }
    const due = nodes
      .filter((n) => n.status === 'WAITING' && n.due_at)
      .map((n) => n.due_at as Date);
    if (!ended && due.length) out.nextDueAt = new Date(Math.min(...due.map((d) => d.getTime())));
  }
  await tx.query('UPDATE workflow_runs SET needs_advance = false WHERE id = $1', [run.id]);
  if ((out.runStatus || isFinalRun(run.status)) && run.parent_run_id === null)
    out.promoted = await promoteQueued(tx, run.workflow_id, run.dag);
  return out;
}

async function dbNow(tx: pg.PoolClient): Promise<Date> {
  // The clock now, not this transaction's start (which may precede the ends it sees).
  const { rows } = await tx.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  return (rows[0] as { now: Date }).now;
}

type SetNode = (node: NodeRow, fields: Parameters<typeof setNode>[3]) => Promise<void>;

/** A final run: what still runs is stopped (after the commit); timers end with it. */
async function windDown(run: RunRow, nodes: NodeRow[], set: SetNode, out: Advanced) {
  for (const n of nodes) {
    if (n.status === 'RUNNING' && n.instance_id) out.stopInstances.push(n.instance_id);
    if (n.status === 'RUNNING' && n.child_run_id) out.stopRuns.push(n.child_run_id);
    if (n.status === 'WAITING')
      await set(n, { status: 'STOPPED', reason: `workflow run ${run.status}`, finished: true });
  }
}

/** Starts every ready node until nothing changes (decisions and waits resolve at once). */
async function startReady(
  tx: pg.PoolClient,
  run: LockedRun,
  nodes: NodeRow[],
  byId: Map<string, NodeRow>,
  now: Date,
  set: SetNode,
  out: Advanced,
  intake: RunIntake,
): Promise<void> {
  // A context over the limit ends the run (endOf): nothing more starts with it.
  if (contextBytes(run.context) > MAX_CONTEXT_BYTES) return;
  const specs = new Map(run.dag.nodes.map((n) => [n.id, n]));
  for (;;) {
    if (failingNode(run.dag, nodes)) return; // nothing new starts once a node failed the run
    let changed = false;
    for (const n of nodes) {
      if (n.status === 'WAITING' && n.due_at && n.due_at <= now) {
        await set(n, { status: 'SUCCEEDED', finished: true });
        changed = true;
      }
    }
    const jobs: { node: NodeRow; jobId: string; params: JsonValue | undefined; retry?: object }[] =
      [];
    for (const n of nodes) {
      const spec = specs.get(n.node_id);
      if (n.status !== 'PENDING' || !spec) continue;
      const ready = readiness(n.node_id, run.dag, byId);
      if (ready === 'wait') continue;
      changed = true;
      if (ready === 'skip') {
        await set(n, { status: 'SKIPPED', finished: true });
      } else if (!spec.enabled) {
        await set(n, { status: 'DISABLED', finished: true });
      } else if (spec.kind === 'decision') {
        const outcome = evaluateDecision(spec.id, spec.expression, run.context, run.init_params);
        if (outcome.ok)
          await set(n, { status: 'SUCCEEDED', result: outcome.value, finished: true });
        else await set(n, { status: 'FAILED', reason: outcome.reason, finished: true });
      } else if (spec.kind === 'wait') {
        const dueAt =
          spec.delayMs !== undefined
            ? new Date(now.getTime() + spec.delayMs)
            : new Date(spec.until as string);
        if (dueAt <= now) await set(n, { status: 'SUCCEEDED', finished: true });
        else await set(n, { status: 'WAITING', dueAt, startedAt: now });
      } else if (spec.kind === 'workflow') {
        await startChild(tx, run, n, spec.workflowId, set);
      } else {
        jobs.push({
          node: n,
          jobId: spec.jobId ?? spec.job,
          params: spec.params,
          retry: spec.retry,
        });
      }
    }
    if (jobs.length) await startJobs(tx, run, jobs, set, out, intake);
    if (!changed) return;
  }
}

async function startJobs(
  tx: pg.PoolClient,
  run: LockedRun,
  jobs: { node: NodeRow; jobId: string; params: JsonValue | undefined; retry?: object }[],
  set: SetNode,
  out: Advanced,
  intake: RunIntake,
): Promise<void> {
  const { rows } = await tx.query<{ id: string; spec: JobSpec }>(
    'SELECT id, spec FROM jobs WHERE id = ANY($1::bigint[]) AND app_id = $2',
    [jobs.filter((j) => /^\d+$/.test(j.jobId)).map((j) => j.jobId), run.app_id],
  );
  const found = new Map(rows.map((r) => [r.id, r.spec]));
  const requests: { node: NodeRow; request: RunRequest }[] = [];
  for (const j of jobs) {
    const spec = found.get(j.jobId);
    if (!spec) {
      await set(j.node, {
        status: 'FAILED',
        reason: `node "${j.node.node_id}": job ${j.jobId} no longer exists`,
        finished: true,
      });
      continue;
    }
    requests.push({
      node: j.node,
      request: {
        app: run.app,
        spec,
        appId: run.app_id,
        jobId: j.jobId,
        triggerType: 'WORKFLOW',
        params: j.params,
        workflow: { runId: run.id, nodeId: j.node.node_id, attempt: j.node.attempt },
        retryPolicy: j.retry ? { ...spec.instanceRetry, ...j.retry } : undefined,
      },
    });
  }
  if (!requests.length) return;
  const { inserted, handOff } = await intake.createIn(
    tx,
    requests.map((r) => r.request),
  );
  for (const [i, r] of requests.entries()) {
    const instance = inserted[i]?.instance;
    if (instance) await set(r.node, { status: 'RUNNING', instanceId: instance.id });
  }
  out.handOffs.push(handOff);
}

async function startChild(
  tx: pg.PoolClient,
  run: LockedRun,
  node: NodeRow,
  workflowId: string | undefined,
  set: SetNode,
): Promise<void> {
  if (run.depth + 1 > MAX_WORKFLOW_DEPTH) {
    await set(node, {
      status: 'FAILED',
      reason: `node "${node.node_id}": nested deeper than ${MAX_WORKFLOW_DEPTH} workflow levels`,
      finished: true,
    });
    return;
  }
  const { rows } = await tx.query<{ spec: WorkflowSpec }>(
    'SELECT spec FROM workflows WHERE id = $1 AND app_id = $2',
    [workflowId && /^\d+$/.test(workflowId) ? workflowId : null, run.app_id],
  );
  const child = rows[0];
  if (!child || !workflowId) {
    await set(node, {
      status: 'FAILED',
      reason: `node "${node.node_id}": workflow ${workflowId ?? '?'} no longer exists`,
      finished: true,
    });
    return;
  }
  const created = await insertRun(tx, {
    appId: run.app_id,
    workflowId,
    status: 'RUNNING',
    triggerType: 'WORKFLOW',
    dag: child.spec,
    initParams: run.context,
    context: run.context,
    parent: { runId: run.id, nodeId: node.node_id, depth: run.depth + 1 },
  });
  if (!created) throw new Error(`child run of node ${node.node_id} not created`);
  await set(node, { status: 'RUNNING', childRunId: created.id });
}

/** The run's end, if it has come: a failing node, an oversized context, or all done. */
function endOf(run: RunRow, nodes: NodeRow[]): { status: RunStatus; reason: string | null } | null {
  const size = contextBytes(run.context);
  if (size > MAX_CONTEXT_BYTES) {
    return {
      status: 'FAILED',
      reason: `the workflow context is ${size} bytes of JSON, over the limit of ${MAX_CONTEXT_BYTES}`,
    };
  }
  const failing = failingNode(run.dag, nodes);
  if (failing) {
    if (run.dag.onNodeFailure === 'LET_FINISH' && activeNodes(nodes).length) return null;
    // A failed run's error text is its result (the instance's reason says what the server did).
    const text =
      failing.reason ??
      (typeof failing.result === 'string' ? failing.result : JSON.stringify(failing.result));
    const why = text && text !== 'null' ? `: ${text.slice(0, 1_000)}` : '';
    return { status: 'FAILED', reason: `node "${failing.node_id}" ${failing.status}${why}` };
  }
  return allDone(run.dag, nodes) ? { status: 'SUCCEEDED', reason: null } : null;
}

/**
 * A run of the workflow ended: the oldest queued (WAITING) runs start while
 * the workflow's maxConcurrentRuns allows. Under the workflow's row lock, as
 * new runs are counted under it.
 */
export async function promoteQueued(
  tx: pg.PoolClient,
  workflowId: string,
  dag: WorkflowSpec,
): Promise<string[]> {
  await tx.query('SELECT 1 FROM workflows WHERE id = $1 FOR UPDATE', [workflowId]);
  const { rows: limitRows } = await tx.query<{ spec: WorkflowSpec }>(
    'SELECT spec FROM workflows WHERE id = $1',
    [workflowId],
  );
  const limit = limitRows[0]?.spec.maxConcurrentRuns ?? dag.maxConcurrentRuns;
  const { rows } = await tx.query<{ id: string }>(
    `WITH running AS (
       SELECT count(*) AS n FROM workflow_runs
       WHERE workflow_id = $1 AND status = 'RUNNING' AND parent_run_id IS NULL),
     next AS (
       SELECT id FROM workflow_runs
       WHERE workflow_id = $1 AND status = 'WAITING' AND parent_run_id IS NULL
       ORDER BY id
       LIMIT CASE WHEN $2::int = 0 THEN NULL ELSE greatest(0, $2::int - (SELECT n FROM running)) END)
     UPDATE workflow_runs r SET status = 'RUNNING', started_at = clock_timestamp(), needs_advance = true
     FROM next WHERE r.id = next.id RETURNING r.id`,
    [workflowId, limit],
  );
  return rows.map((r) => r.id);
}
