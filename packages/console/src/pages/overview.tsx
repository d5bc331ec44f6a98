import { DroverApiError, type Instance } from '@drover/client';
import { useEffect, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { useConsole, useEvents } from '../context.js';
import { CHART_SERIES, minuteRows } from '../overview/run-stats.js';
import { ErrorNote, PageTitle, Status, useLoad, useThrottle } from '../ui/bits.js';
import { formatTime } from '../ui/format.js';
import { useLazy } from '../ui/lazy.js';

const loadChart = () => import('../overview/runs-chart.js');

/** Runs per minute, waiting runs, workers alive, recent failures, runs with task progress. */
export function Overview() {
  const { client } = useConsole();
  const chart = useLazy(loadChart);
  const stats = useLoad(async () => {
    try {
      return await client.getRunStats(60);
    } catch (err) {
      if (err instanceof DroverApiError && err.status === 404) return null; // a server without the route
      throw err;
    }
  }, [client]);
  const workers = useLoad(() => client.listWorkers(), [client]);
  const failures = useLoad(() => client.listInstances({ status: 'FAILED', limit: 10 }), [client]);
  const running = useLoad(() => client.listInstances({ status: 'RUNNING', limit: 100 }), [client]);
  const [progress, setProgress] = useState(new Map<string, Instance>());
  useEffect(() => {
    if (running.data)
      setProgress(
        new Map(running.data.instances.filter((i) => i.progress?.total).map((i) => [i.id, i])),
      );
  }, [running.data]);

  const reloadStats = useThrottle(stats.reload, 5_000);
  const reloadFailures = useThrottle(failures.reload, 5_000);
  const reloadWorkers = useThrottle(workers.reload, 2_000);
  // The chart's window moves on each minute.
  useEffect(() => {
    const timer = setInterval(stats.reload, 60_000);
    return () => clearInterval(timer);
  }, [stats.reload]);

  useEvents(
    (event) => {
      if (event.type === 'worker') reloadWorkers();
      if (event.type === 'instance') {
        reloadStats();
        if (event.status === 'FAILED') reloadFailures();
        if (event.status !== 'RUNNING')
          setProgress((m) => {
            const run = m.get(event.instanceId);
            if (!run) return m;
            const next = new Map(m);
            next.set(event.instanceId, { ...run, status: event.status });
            return next;
          });
      }
      if (event.type === 'progress' && event.progress.total > 0)
        setProgress((m) => {
          const run = m.get(event.instanceId);
          const next = new Map(m);
          if (run) next.set(event.instanceId, { ...run, progress: event.progress });
          // A run this page has not read: what the event says is enough to draw its bar.
          else
            next.set(event.instanceId, {
              id: event.instanceId,
              status: 'RUNNING',
              progress: event.progress,
              workerId: event.workerId,
            } as Instance);
          return next;
        });
    },
    () => {
      stats.reload();
      workers.reload();
      failures.reload();
      running.reload();
    },
  );

  const rows = stats.data ? minuteRows(stats.data, Date.now()) : [];
  const alive = workers.data?.filter((w) => w.alive).length;
  const bars = [...progress.values()]
    .sort((a, b) => Number(BigInt(b.id) - BigInt(a.id)))
    .slice(0, 5);

  return (
    <section>
      <PageTitle>Overview</PageTitle>
      <div class="figures">
        <figure class="figure card" aria-labelledby="fig-waiting">
          <figcaption id="fig-waiting">Waiting runs</figcaption>
          <p class="figure-value">{stats.data ? stats.data.waiting : '—'}</p>
        </figure>
        <figure class="figure card" aria-labelledby="fig-running">
          <figcaption id="fig-running">Running runs</figcaption>
          <p class="figure-value">
            {stats.data ? stats.data.running : (running.data?.instances.length ?? '—')}
          </p>
        </figure>
        <figure class="figure card" aria-labelledby="fig-workers">
          <figcaption id="fig-workers">Workers alive</figcaption>
          <p class="figure-value">{alive ?? '—'}</p>
        </figure>
      </div>
      <section class="card block" aria-labelledby="rpm-title">
        <h2 id="rpm-title">Runs per minute</h2>
        <ErrorNote error={stats.error} />
        {stats.data === null && <p>No data: this server does not report run statistics.</p>}
        {stats.data && (
          <>
            <p class="hint">
              Runs finished in each of the last {stats.data.minutes} minutes, by status.
            </p>
            {chart ? <chart.default rows={rows} /> : <div class="chart" />}
            {/* A table sizes to its content: the wrapper is what stays 1 px. */}
            <div class="visually-hidden">
              <table>
                <caption>Runs finished per minute</caption>
                <thead>
                  <tr>
                    <th scope="col">Minute</th>
                    {CHART_SERIES.map((s) => (
                      <th key={s.status} scope="col">
                        {s.status}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {rows
                    .filter((r) => Object.keys(r.counts).length > 0)
                    .map((r) => (
                      <tr key={r.minute}>
                        <th scope="row">{formatTime(r.minute)}</th>
                        {CHART_SERIES.map((s) => (
                          <td key={s.status}>{r.counts[s.status] ?? 0}</td>
                        ))}
                      </tr>
                    ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </section>
      <div class="columns">
        <section class="card block" aria-labelledby="progress-title">
          <h2 id="progress-title">Task progress</h2>
          {bars.length === 0 && <p class="muted">No map or map-reduce run is under way.</p>}
          <ul class="plain">
            {bars.map((run) => {
              const p = run.progress;
              if (!p) return null;
              const done = p.succeeded + p.failed;
              return (
                <li key={run.id}>
                  <Link href={`/runs/${run.id}`} id={`progress-${run.id}`}>
                    Run #{run.id}
                  </Link>{' '}
                  <Status value={run.status} />{' '}
                  <span class="muted">
                    {done} of {p.total} tasks
                  </span>
                  <div
                    role="progressbar"
                    aria-labelledby={`progress-${run.id}`}
                    aria-valuemin={0}
                    aria-valuemax={p.total}
                    aria-valuenow={done}
                    class="progressbar"
                  >
                    <div class="bar ok" style={{ width: `${(100 * p.succeeded) / p.total}%` }} />
                    <div class="bar bad" style={{ width: `${(100 * p.failed) / p.total}%` }} />
                  </div>
                </li>
              );
            })}
          </ul>
        </section>
        <section class="card block" aria-labelledby="failures-title">
          <h2 id="failures-title">Recent failures</h2>
          <ErrorNote error={failures.error} />
          {failures.data?.instances.length === 0 && <p class="muted">No failed runs.</p>}
          <ul class="plain">
            {failures.data?.instances.map((run) => (
              <li key={run.id}>
                <Link href={`/runs/${run.id}`}>#{run.id}</Link>{' '}
                <span class="muted">{formatTime(run.finishedAt)}</span>
                {run.reason && <div class="small clip">{run.reason}</div>}
              </li>
            ))}
          </ul>
        </section>
      </div>
    </section>
  );
}
