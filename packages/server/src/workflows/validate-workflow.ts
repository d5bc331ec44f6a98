import type { Queryable } from '../db/pool.js';
import { MAX_PARAMS_BYTES, paramsBytes, paramsTooLarge } from '../jobs/params-size.js';
import { decisionProblem } from './decision.js';
import { type DagEdge, MAX_WORKFLOW_DEPTH, type WorkflowSpec } from './workflow-spec.js';

// What a workflow spec must be beyond its shape (workflow-spec.ts): a graph
// that can run (unique ids, edges between existing nodes, acyclic, every node
// reachable from a root, `when` exactly on a decision's edges), decisions that
// parse and read only the context and params, and references
// that exist (jobs and nested workflows of the app, resolved to ids, with no
// nesting cycle and nesting no deeper than MAX_WORKFLOW_DEPTH).

/** A spec the API refuses: where (`["nodes", 2, "job"]`) and why, naming the node. */
export class WorkflowSpecError extends Error {
  constructor(
    readonly path: (string | number)[],
    message: string,
  ) {
    super(message);
    this.name = 'WorkflowSpecError';
  }
}

function fail(path: (string | number)[], message: string): never {
  throw new WorkflowSpecError(path, message);
}

/** The graph checks, on the spec alone. Throws WorkflowSpecError at the first problem. */
export function checkGraph(spec: WorkflowSpec): void {
  const index = new Map<string, number>();
  spec.nodes.forEach((node, i) => {
    const first = index.get(node.id);
    if (first !== undefined)
      fail(['nodes', i, 'id'], `node "${node.id}": duplicate id (also nodes[${first}])`);
    index.set(node.id, i);
  });
  const kindOf = (id: string) => spec.nodes[index.get(id) ?? -1]?.kind;
  const out = new Map<string, string[]>(spec.nodes.map((n) => [n.id, []]));
  const incoming = new Map<string, number>(spec.nodes.map((n) => [n.id, 0]));
  const seen = new Set<string>();
  spec.edges.forEach((edge, i) => {
    for (const end of ['from', 'to'] as const)
      if (!index.has(edge[end]))
        fail(['edges', i, end], `edge ${describe(edge)}: no node "${edge[end]}"`);
    if (edge.from === edge.to)
      fail(['edges', i], `edge ${describe(edge)}: node "${edge.from}" cannot follow itself`);
    const key = `${edge.from}\u0000${edge.to}`;
    if (seen.has(key)) fail(['edges', i], `edge ${describe(edge)}: duplicate edge`);
    seen.add(key);
    const fromDecision = kindOf(edge.from) === 'decision';
    if (fromDecision && edge.when === undefined)
      fail(
        ['edges', i, 'when'],
        `edge ${describe(edge)}: edges out of decision "${edge.from}" need when: true or false`,
      );
    if (!fromDecision && edge.when !== undefined)
      fail(
        ['edges', i, 'when'],
        `edge ${describe(edge)}: only edges out of a decision take when ("${edge.from}" is a ${kindOf(edge.from)} node)`,
      );
    out.get(edge.from)?.push(edge.to);
    incoming.set(edge.to, (incoming.get(edge.to) ?? 0) + 1);
  });
  const roots = spec.nodes.filter((n) => incoming.get(n.id) === 0).map((n) => n.id);
  const reached = new Set<string>();
  const stack = [...roots];
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    if (reached.has(id)) continue;
    reached.add(id);
    stack.push(...(out.get(id) ?? []));
  }
  const unreached = spec.nodes.findIndex((n) => !reached.has(n.id));
  const cycle = findCycle(
    spec.nodes.map((n) => n.id),
    out,
  );
  if (unreached >= 0) {
    const id = spec.nodes[unreached]?.id;
    fail(
      ['nodes', unreached],
      `node "${id}": not reachable from a root (a node with no incoming edge)` +
        (cycle ? `; cycle: ${cycle.join(' → ')}` : ''),
    );
  }
  if (cycle)
    fail(['nodes', index.get(cycle[0] ?? '') ?? 0], `cycle: ${cycle.join(' → ')} (a DAG has none)`);
}

/** Every decision's expression parses, reads only `context` and `params`, and can give a boolean. */
export function checkDecisions(spec: WorkflowSpec): void {
  spec.nodes.forEach((node, i) => {
    if (node.kind !== 'decision') return;
    const problem = decisionProblem(node.expression);
    if (problem) fail(['nodes', i, 'expression'], `node "${node.id}": ${problem}`);
  });
}

function describe(edge: DagEdge): string {
  return `"${edge.from}" → "${edge.to}"`;
}

/** A cycle as its node ids, first repeated at the end (`a → b → a`), or null. */
function findCycle(ids: string[], out: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | null => {
    state.set(id, 'open');
    path.push(id);
    for (const next of out.get(id) ?? []) {
      const s = state.get(next);
      if (s === 'open') return [...path.slice(path.indexOf(next)), next];
      if (s === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    path.pop();
    state.set(id, 'done');
    return null;
  };
  for (const id of ids) {
    if (state.has(id)) continue;
    const found = visit(id);
    if (found) return found;
  }
  return null;
}

/** The workflow being saved: its id when it exists (an update), and its name. */
export interface Saving {
  appId: string;
  appName: string;
  id?: string;
  name: string;
}

/**
 * The graph checks, then resolves every job and workflow node's name (or id)
 * to `jobId`/`workflowId` and checks nesting. Call it in the transaction that
 * saves the workflow, under the app's workflow lock, so two saves cannot make
 * a nesting cycle together. Returns the spec to store.
 */
export async function validateWorkflow(
  db: Queryable,
  saving: Saving,
  spec: WorkflowSpec,
): Promise<WorkflowSpec> {
  checkGraph(spec);
  checkDecisions(spec);
  const resolved = { ...spec, nodes: spec.nodes.map((n) => ({ ...n })) };
  await resolveJobs(db, saving, resolved);
  await resolveWorkflows(db, saving, resolved);
  await checkNesting(db, saving, resolved);
  return resolved;
}

async function resolveJobs(db: Queryable, saving: Saving, spec: WorkflowSpec): Promise<void> {
  const wanted = spec.nodes.flatMap((n) => (n.kind === 'job' ? [n.job] : []));
  if (!wanted.length) return;
  const { rows } = await db.query<{ id: string; name: string; job_params: unknown }>(
    `SELECT id, name, spec->'jobParams' AS job_params FROM jobs
     WHERE app_id = $1 AND (name = ANY($2) OR id::text = ANY($2))`,
    [saving.appId, wanted],
  );
  const byName = new Map(rows.map((r) => [r.name, r.id]));
  const ids = new Set(rows.map((r) => r.id));
  const jobParams = new Map(rows.map((r) => [r.id, r.job_params]));
  spec.nodes.forEach((node, i) => {
    if (node.kind !== 'job') return;
    // A name wins over an id that happens to look the same.
    const id = byName.get(node.job) ?? (ids.has(node.job) ? node.job : undefined);
    if (id === undefined)
      fail(
        ['nodes', i, 'job'],
        `node "${node.id}": no job named "${node.job}" in app "${saving.appName}"`,
      );
    node.jobId = id;
    // The node's params travel with the job's in one run_job message, as an API run's do.
    const jobBytes = paramsBytes(jobParams.get(id));
    const bytes = jobBytes + paramsBytes(node.params);
    if (bytes > MAX_PARAMS_BYTES)
      fail(
        ['nodes', i, 'params'],
        `node "${node.id}": ${paramsTooLarge(`with the job's ${jobBytes} bytes of jobParams, these params take`, bytes)}`,
      );
  });
}

async function resolveWorkflows(db: Queryable, saving: Saving, spec: WorkflowSpec): Promise<void> {
  const wanted = spec.nodes.flatMap((n) => (n.kind === 'workflow' ? [n.workflow] : []));
  if (!wanted.length) return;
  const { rows } = await db.query<{ id: string; name: string }>(
    `SELECT id, name FROM workflows WHERE app_id = $1 AND (name = ANY($2) OR id::text = ANY($2))`,
    [saving.appId, wanted],
  );
  const byName = new Map(rows.map((r) => [r.name, r.id]));
  const ids = new Set(rows.map((r) => r.id));
  spec.nodes.forEach((node, i) => {
    if (node.kind !== 'workflow') return;
    // The workflow's own (new) name: it is not stored yet, or is this very row.
    if (node.workflow === spec.name)
      fail(['nodes', i, 'workflow'], `node "${node.id}": a workflow cannot nest itself`);
    const id = byName.get(node.workflow) ?? (ids.has(node.workflow) ? node.workflow : undefined);
    if (id === undefined)
      fail(
        ['nodes', i, 'workflow'],
        `node "${node.id}": no workflow named "${node.workflow}" in app "${saving.appName}"`,
      );
    if (id === saving.id)
      fail(['nodes', i, 'workflow'], `node "${node.id}": a workflow cannot nest itself`);
    node.workflowId = id;
  });
}

/**
 * No cycle through nested workflows, and the longest chain of nesting that
 * goes through this workflow (the workflows above it and below it) at most
 * MAX_WORKFLOW_DEPTH levels.
 */
async function checkNesting(db: Queryable, saving: Saving, spec: WorkflowSpec): Promise<void> {
  const { rows } = await db.query<{ id: string; name: string; spec: WorkflowSpec }>(
    'SELECT id, name, spec FROM workflows WHERE app_id = $1',
    [saving.appId],
  );
  const self = saving.id ?? 'new';
  const children = new Map<string, string[]>(rows.map((r) => [r.id, childrenOf(r.spec)]));
  children.set(self, childrenOf(spec));
  const names = new Map<string, string>(rows.map((r) => [r.id, r.name]));
  names.set(self, spec.name);
  const show = (chain: string[]) => chain.map((id) => names.get(id) ?? id).join(' → ');
  const nodeOf = (child: string | undefined) => {
    const i = spec.nodes.findIndex((n) => n.kind === 'workflow' && n.workflowId === child);
    return { path: i >= 0 ? ['nodes', i, 'workflow'] : ['nodes'], id: spec.nodes[i]?.id };
  };

  // Saved workflows have no cycle among themselves (each save is checked under
  // the app's lock), so a cycle goes through this one.
  const down = (path: string[]): string[] => {
    let longest = path;
    for (const child of children.get(path.at(-1) ?? '') ?? []) {
      if (child === self) {
        const { path: at, id } = nodeOf(path[1]);
        fail(at, `node "${id}": nesting cycle: ${show([...path, self])}`);
      }
      if (path.includes(child)) continue;
      const chain = down([...path, child]);
      if (chain.length > longest.length) longest = chain;
    }
    return longest;
  };
  const up = (path: string[]): string[] => {
    let longest = path;
    for (const [parent, nested] of children) {
      if (!nested.includes(path[0] ?? '') || path.includes(parent)) continue;
      const chain = up([parent, ...path]);
      if (chain.length > longest.length) longest = chain;
    }
    return longest;
  };
  const below = down([self]);
  const chain = [...up([self]).slice(0, -1), ...below];
  const levels = chain.length - 1;
  if (levels > MAX_WORKFLOW_DEPTH) {
    const { path, id } = nodeOf(below[1]);
    fail(
      path,
      `${id ? `node "${id}": ` : ''}nesting too deep: ${show(chain)} is ${levels} levels (at most ${MAX_WORKFLOW_DEPTH})`,
    );
  }
}

function childrenOf(spec: WorkflowSpec): string[] {
  return spec.nodes.flatMap((n) =>
    n.kind === 'workflow' && n.workflowId !== undefined ? [n.workflowId] : [],
  );
}
