import type { WorkflowRun } from '@drover/client';
import { useEffect, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { useConsole, useEvents } from '../context.js';
import { ErrorNote, PageTitle, Status, useLoad } from '../ui/bits.js';
import { formatDuration, formatTime } from '../ui/format.js';
import { ScrollBox } from '../ui/scroll-box.js';

/** Workflows and their latest runs (a run's page draws its DAG). */
export function Workflows() {
  const { client } = useConsole();
  const workflows = useLoad(() => client.workflows.list({ limit: 1_000 }), [client]);
  const runs = useLoad(() => client.workflows.listRuns({ limit: 50 }), [client]);
  const [rows, setRows] = useState<WorkflowRun[]>([]);
  useEffect(() => setRows(runs.data?.runs ?? []), [runs.data]);
  useEvents(
    (event) => {
      if (event.type !== 'workflow-run') return;
      if (!rows.some((r) => r.id === event.runId)) return runs.reload();
      setRows((rs) =>
        rs.map((r) =>
          r.id === event.runId ? { ...r, status: event.status, reason: event.reason } : r,
        ),
      );
    },
    () => {
      workflows.reload();
      runs.reload();
    },
  );
  const names = new Map((workflows.data?.workflows ?? []).map((w) => [w.id, w.name]));

  return (
    <section>
      <PageTitle>Workflows</PageTitle>
      <ErrorNote error={workflows.error ?? runs.error} />
      {workflows.data?.workflows.length === 0 && <p>No workflows yet.</p>}
      {(workflows.data?.workflows.length ?? 0) > 0 && (
        <ScrollBox label="Workflows table">
          <table>
            <caption class="visually-hidden">Workflows</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Nodes</th>
                <th scope="col">Schedule</th>
                <th scope="col">Next fire time</th>
                <th scope="col">Enabled</th>
              </tr>
            </thead>
            <tbody>
              {workflows.data?.workflows.map((w) => {
                const schedule = w.spec.schedule as
                  | { type?: string; expression?: string }
                  | undefined;
                const nodes = Array.isArray(w.spec.nodes) ? w.spec.nodes.length : 0;
                return (
                  <tr key={w.id}>
                    <th scope="row">{w.name}</th>
                    <td>{nodes}</td>
                    <td>
                      {schedule ? `${schedule.type ?? ''} ${schedule.expression ?? ''}` : 'API'}
                    </td>
                    <td>{formatTime(w.nextFireTimes?.[0])}</td>
                    <td>{w.enabled ? 'yes' : 'no'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </ScrollBox>
      )}
      <h2>Latest workflow runs</h2>
      {runs.data && rows.length === 0 && <p>No workflow runs yet.</p>}
      {rows.length > 0 && (
        <ScrollBox label="Workflow runs table">
          <table>
            <caption class="visually-hidden">Workflow runs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Workflow</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((run) => (
                <tr key={run.id}>
                  <th scope="row">
                    <Link href={`/workflows/runs/${run.id}`}>#{run.id}</Link>
                  </th>
                  <td>{names.get(run.workflowId) ?? `#${run.workflowId}`}</td>
                  <td>
                    <Status value={run.status} />
                  </td>
                  <td>{formatTime(run.createdAt)}</td>
                  <td>{formatDuration(run.startedAt, run.finishedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      )}
    </section>
  );
}
