import type { Instance, Worker } from '@drover/client';
import { Link } from 'wouter-preact';
import { useConsole, useEvents } from '../context.js';
import { ErrorNote, PageTitle, useLoad, useThrottle } from '../ui/bits.js';
import { formatBytes, formatTime } from '../ui/format.js';
import { ScrollBox } from '../ui/scroll-box.js';

interface WorkersData {
  workers: Worker[];
  /** RUNNING runs each worker holds (absent: the server could not filter by worker). */
  held: Map<string, Instance[]>;
}

/** Workers with their health, tags, processors, last heartbeat and the runs they hold. */
export function Workers() {
  const { client } = useConsole();
  const list = useLoad<WorkersData>(async () => {
    const workers = await client.listWorkers();
    const held = new Map<string, Instance[]>();
    await Promise.all(
      workers
        .filter((w) => w.alive)
        .map(async (w) => {
          const page = await client
            .listInstances({ workerId: w.workerId, status: 'RUNNING', limit: 100 })
            .catch(() => null);
          if (page)
            held.set(
              w.workerId,
              page.instances.filter((i) => i.workerId === w.workerId),
            );
        }),
    );
    return { workers, held };
  }, [client]);
  // A worker joined, left or was lost, or a run moved: read the list again (at most every 2 s).
  const reload = useThrottle(list.reload, 2_000);
  useEvents((event) => {
    if (event.type === 'worker' || event.type === 'instance') reload();
  }, list.reload);

  const workers = [...(list.data?.workers ?? [])].sort(
    (a, b) => Number(b.alive) - Number(a.alive) || a.workerId.localeCompare(b.workerId),
  );
  return (
    <section>
      <PageTitle>Workers</PageTitle>
      <ErrorNote error={list.error} />
      {!list.data && !list.error && <p>Loading…</p>}
      {list.data && workers.length === 0 && <p>No worker has connected yet.</p>}
      {workers.length > 0 && (
        <ScrollBox label="Workers table">
          <table>
            <caption class="visually-hidden">Workers of this app</caption>
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Health</th>
                <th scope="col">CPU</th>
                <th scope="col">Memory</th>
                <th scope="col">Slots free</th>
                <th scope="col">Tags</th>
                <th scope="col">Processors</th>
                <th scope="col">Last heartbeat</th>
                <th scope="col">Running</th>
              </tr>
            </thead>
            <tbody>
              {workers.map((w) => {
                const held = list.data?.held.get(w.workerId);
                const m = w.metrics;
                return (
                  <tr key={w.workerId}>
                    <th scope="row" class="mono">
                      {w.workerId}
                      <div class="muted small">v{w.version}</div>
                    </th>
                    <td>
                      <span class={`status status-${w.alive ? 'ok' : 'bad'}`}>
                        {w.alive ? 'alive' : 'lost'}
                      </span>
                    </td>
                    <td>
                      {m.cpuLoad.toFixed(2)} / {m.cpuCores} cores
                    </td>
                    <td>
                      {formatBytes(m.memoryUsedBytes)} of {formatBytes(m.memoryTotalBytes)}
                    </td>
                    <td>
                      {m.freeSlots} of {m.totalSlots}
                    </td>
                    <td>{w.tags.join(', ') || '—'}</td>
                    <td>{w.processors.join(', ') || '—'}</td>
                    <td>{formatTime(w.lastSeenAt)}</td>
                    <td>
                      {!w.alive
                        ? '—'
                        : held === undefined
                          ? 'unknown'
                          : held.length === 0
                            ? 'none'
                            : held.map((run, i) => (
                                <span key={run.id}>
                                  {i > 0 && ', '}
                                  <Link href={`/runs/${run.id}`}>#{run.id}</Link>
                                </span>
                              ))}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </ScrollBox>
      )}
    </section>
  );
}
