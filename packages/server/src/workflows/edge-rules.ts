import type { NodeRow } from './store/workflow-runs.js';
import type { DagNode, WorkflowSpec } from './workflow-spec.js';

// Which nodes of a run may start, which are passed over, and when the run is
// done: pure functions over the DAG and its nodes' rows.

type EdgeState = 'live' | 'dead' | 'open';

/** A node that ended without failing its run (its successors go on). */
function passes(node: NodeRow, spec: DagNode): boolean {
  if (node.status === 'SUCCEEDED' || node.status === 'DISABLED') return true;
  return (node.status === 'FAILED' || node.status === 'STOPPED') && spec.skipWhenFailed;
}

/**
 * A decision's branch: its value; a decision passed over without one (disabled,
 * failed with skipWhenFailed, marked succeeded) takes its `true` branch.
 */
function branch(node: NodeRow): boolean {
  return node.result !== false;
}

function edgeState(
  edge: WorkflowSpec['edges'][number],
  nodes: Map<string, NodeRow>,
  specs: Map<string, DagNode>,
): EdgeState {
  const from = nodes.get(edge.from);
  const spec = specs.get(edge.from);
  if (!from || !spec) return 'dead';
  if (from.status === 'SKIPPED') return 'dead';
  if (!passes(from, spec)) return 'open';
  if (spec.kind === 'decision') return (edge.when ?? true) === branch(from) ? 'live' : 'dead';
  return 'live';
}

/** For a PENDING node: start it, skip it (every way in is dead), or keep waiting. */
export function readiness(
  nodeId: string,
  dag: WorkflowSpec,
  nodes: Map<string, NodeRow>,
): 'ready' | 'skip' | 'wait' {
  const specs = new Map(dag.nodes.map((n) => [n.id, n]));
  const incoming = dag.edges.filter((e) => e.to === nodeId);
  if (incoming.length === 0) return 'ready';
  const states = incoming.map((e) => edgeState(e, nodes, specs));
  if (states.includes('open')) return 'wait';
  return states.includes('live') ? 'ready' : 'skip';
}

/** The first node whose end fails the run (FAILED or STOPPED, not skipWhenFailed). */
export function failingNode(dag: WorkflowSpec, nodes: NodeRow[]): NodeRow | undefined {
  const specs = new Map(dag.nodes.map((n) => [n.id, n]));
  return nodes.find(
    (n) =>
      (n.status === 'FAILED' || n.status === 'STOPPED') && !specs.get(n.node_id)?.skipWhenFailed,
  );
}

/** Every node ended without failing the run. */
export function allDone(dag: WorkflowSpec, nodes: NodeRow[]): boolean {
  const specs = new Map(dag.nodes.map((n) => [n.id, n]));
  return nodes.every((n) => {
    const spec = specs.get(n.node_id);
    return n.status === 'SKIPPED' || (spec !== undefined && passes(n, spec));
  });
}

/** Nodes still at work (an instance or child run, or a wait's timer). */
export function activeNodes(nodes: NodeRow[]): NodeRow[] {
  return nodes.filter((n) => n.status === 'RUNNING' || n.status === 'WAITING');
}
