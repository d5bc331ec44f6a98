import type { WorkflowRunDetail } from '@drover/client';
import { useEffect, useState } from 'preact/hooks';
import { Link, useRoute } from 'wouter-preact';
import { useConsole, useEvents } from '../context.js';
import { ErrorNote, PageTitle, Status } from '../ui/bits.js';
import { formatTime } from '../ui/format.js';
import { useLazy } from '../ui/lazy.js';
import { ScrollBox } from '../ui/scroll-box.js';
import type { DagEdge, DagNode } from '../workflows/dag-layout.js';

const loadDag = () => import('../workflows/dag-view.js');

/** One workflow run: its DAG with each node's state, live. */
export function WorkflowRunPage() {
  const { client } = useConsole();
  const [, params] = useRoute<{ id: string }>('/workflows/runs/:id');
  const id = params?.id ?? '';
  const dag = useLazy(loadDag);
  const [run, setRun] = useState<WorkflowRunDetail | null>(null);
  const [graph, setGraph] = useState<{ nodes: DagNode[]; edges: DagEdge[] } | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = async () => {
    try {
      const detail = await client.workflows.getRun(id);
      setRun(detail);
      const workflow = await client.workflows.get(detail.workflowId);
      setGraph(graphOf(workflow.spec, detail));
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load();
  }, [id]);

  useEvents(
    (event) => {
      if (event.type === 'workflow-run' && event.runId === id)
        setRun((r) => (r ? { ...r, status: event.status, reason: event.reason } : r));
      if (event.type === 'workflow-node' && event.runId === id)
        setRun((r) =>
          r
            ? {
                ...r,
                nodes: r.nodes.map((n) =>
                  n.nodeId === event.nodeId
                    ? {
                        ...n,
                        status: event.status,
                        instanceId: event.instanceId,
                        childRunId: event.childRunId,
                      }
                    : n,
                ),
              }
            : r,
        );
    },
    () => void load(),
  );

  const states = new Map((run?.nodes ?? []).map((n) => [n.nodeId, n.status as string]));
  return (
    <section>
      <PageTitle>Workflow run #{id}</PageTitle>
      <p>
        <Link href="/workflows">Back to workflows</Link>
      </p>
      <ErrorNote error={error} />
      {run && (
        <>
          <p>
            Status: <span role="status">{run.status}</span>
            {run.reason && <span class="muted"> — {run.reason}</span>}
          </p>
          {graph && dag && <dag.default nodes={graph.nodes} edges={graph.edges} states={states} />}
          <ScrollBox label="Nodes table">
            <table>
              <caption>Nodes</caption>
              <thead>
                <tr>
                  <th scope="col">Node</th>
                  <th scope="col">Kind</th>
                  <th scope="col">State</th>
                  <th scope="col">Attempt</th>
                  <th scope="col">Run</th>
                  <th scope="col">Started</th>
                  <th scope="col">Finished</th>
                </tr>
              </thead>
              <tbody>
                {run.nodes.map((n) => (
                  <tr key={n.nodeId}>
                    <th scope="row">{n.nodeId}</th>
                    <td>{n.kind}</td>
                    <td>
                      <Status value={n.status} />
                    </td>
                    <td>{n.attempt}</td>
                    <td>
                      {n.instanceId && <Link href={`/runs/${n.instanceId}`}>#{n.instanceId}</Link>}
                      {n.childRunId && (
                        <Link href={`/workflows/runs/${n.childRunId}`}>
                          workflow #{n.childRunId}
                        </Link>
                      )}
                    </td>
                    <td>{formatTime(n.startedAt)}</td>
                    <td>{formatTime(n.finishedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollBox>
        </>
      )}
    </section>
  );
}

/** The DAG from the workflow's spec (nodes and edges); the run's nodes fill in any the spec lacks. */
function graphOf(
  spec: Record<string, unknown>,
  run: WorkflowRunDetail,
): { nodes: DagNode[]; edges: DagEdge[] } {
  const specNodes = Array.isArray(spec.nodes)
    ? (spec.nodes as { id?: unknown; kind?: unknown }[])
    : [];
  const ids = new Set<string>();
  const nodes: DagNode[] = [];
  for (const n of specNodes)
    if (typeof n.id === 'string' && !ids.has(n.id)) {
      ids.add(n.id);
      nodes.push({ id: n.id, label: n.id });
    }
  for (const n of run.nodes)
    if (!ids.has(n.nodeId)) {
      ids.add(n.nodeId);
      nodes.push({ id: n.nodeId, label: n.nodeId });
    }
  const specEdges = Array.isArray(spec.edges)
    ? (spec.edges as { from?: unknown; to?: unknown; when?: unknown }[])
    : [];
  const edges: DagEdge[] = specEdges
    .filter((e) => typeof e.from === 'string' && typeof e.to === 'string')
    .map((e) => ({
      from: e.from as string,
      to: e.to as string,
      ...(typeof e.when === 'boolean' ? { label: String(e.when) } : {}),
    }));
  return { nodes, edges };
}
