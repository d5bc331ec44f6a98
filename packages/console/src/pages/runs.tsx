import type { Instance, Job } from '@drover/client';
import { InstanceStatus } from '@drover/protocol';
import { useEffect, useState } from 'preact/hooks';
import { Link, useLocation, useSearch } from 'wouter-preact';
import { useConsole, useEvents } from '../context.js';
import { specText } from '../jobs/job-spec.js';
import { ErrorNote, PageTitle, Status, useLoad } from '../ui/bits.js';
import { formatDuration, formatTime, localInputToMs } from '../ui/format.js';
import { ScrollBox } from '../ui/scroll-box.js';

const STATUSES = Object.values(InstanceStatus);
const PAGE = 50;

interface Filters {
  job: string;
  status: string;
  from: string;
  to: string;
}

/** Runs, newest first, filtered by job, status and creation time; rows update live. */
export function Runs() {
  const { client } = useConsole();
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const filters: Filters = {
    job: params.get('job') ?? '',
    status: params.get('status') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
  };
  const jobs = useLoad(() => client.listJobs({ limit: 1_000 }), [client]);
  const jobName = new Map((jobs.data?.jobs ?? []).map((j: Job) => [j.id, specText(j, 'name')]));
  const [rows, setRows] = useState<Instance[]>([]);
  const [next, setNext] = useState<string | null>(null);

  const fetchPage = (before?: string) =>
    client.listInstances({
      jobId: filters.job || undefined,
      status: (filters.status || undefined) as InstanceStatus | undefined,
      createdAfter: localInputToMs(filters.from),
      createdBefore: localInputToMs(filters.to),
      before,
      limit: PAGE,
    });
  const page = useLoad(() => fetchPage(), [client, search]);
  useEffect(() => {
    if (!page.data) return;
    setRows(page.data.instances);
    setNext(page.data.next);
  }, [page.data]);

  const matches = (run: Pick<Instance, 'jobId' | 'status' | 'createdAt'>) =>
    (!filters.job || run.jobId === filters.job) &&
    (!filters.status || run.status === filters.status) &&
    (!filters.from || run.createdAt >= (localInputToMs(filters.from) ?? 0)) &&
    (!filters.to || run.createdAt <= (localInputToMs(filters.to) ?? Number.POSITIVE_INFINITY));

  useEvents((event) => {
    if (event.type === 'progress') {
      setRows((rs) =>
        rs.map((r) => (r.id === event.instanceId ? { ...r, progress: event.progress } : r)),
      );
      return;
    }
    if (event.type !== 'instance') return;
    setRows((rs) => {
      const index = rs.findIndex((r) => r.id === event.instanceId);
      if (index === -1) {
        // A run this page has not seen: read it once, show it if the filters take it.
        client.getInstance(event.instanceId).then(
          (run) =>
            matches(run) &&
            setRows((now) => {
              if (now.some((r) => r.id === run.id)) return now;
              // An older run than the rows shown (a later page's) stays on its page.
              const oldest = now.at(-1);
              if (next && oldest && BigInt(run.id) < BigInt(oldest.id)) return now;
              return [run, ...now].sort((a, b) => Number(BigInt(b.id) - BigInt(a.id)));
            }),
          () => undefined,
        );
        return rs;
      }
      const old = rs[index] as Instance;
      const updated: Instance = {
        ...old,
        status: event.status,
        workerId: event.workerId,
        reason: event.reason,
        result: event.result ?? old.result,
        finishedAt:
          event.status === old.status
            ? old.finishedAt
            : isFinalStatus(event.status)
              ? event.at
              : old.finishedAt,
        startedAt: event.status === 'RUNNING' && old.startedAt === null ? event.at : old.startedAt,
      };
      const out = [...rs];
      if (filters.status && event.status !== filters.status) out.splice(index, 1);
      else out[index] = updated;
      return out;
    });
  }, page.reload);

  const setFilter = (key: keyof Filters) => (event: Event) => {
    const value = (event.currentTarget as HTMLInputElement).value;
    const next = new URLSearchParams(search);
    if (value) next.set(key, value);
    else next.delete(key);
    const text = next.toString();
    navigate(`/runs${text ? `?${text}` : ''}`, { replace: true });
  };

  const more = async () => {
    if (!next) return;
    const older = await fetchPage(next);
    setRows((rs) => [...rs, ...older.instances.filter((o) => !rs.some((r) => r.id === o.id))]);
    setNext(older.next);
  };

  return (
    <section>
      <PageTitle>Runs</PageTitle>
      <form class="filters" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="runs-job">Job</label>
          <select id="runs-job" value={filters.job} onChange={setFilter('job')}>
            <option value="">All jobs</option>
            {(jobs.data?.jobs ?? []).map((j) => (
              <option key={j.id} value={j.id}>
                {specText(j, 'name')}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="runs-status">Status</label>
          <select id="runs-status" value={filters.status} onChange={setFilter('status')}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="runs-from">From</label>
          <input
            id="runs-from"
            type="datetime-local"
            step="1"
            value={filters.from}
            onChange={setFilter('from')}
          />
        </div>
        <div class="field">
          <label for="runs-to">To</label>
          <input
            id="runs-to"
            type="datetime-local"
            step="1"
            value={filters.to}
            onChange={setFilter('to')}
          />
        </div>
      </form>
      <ErrorNote error={page.error} />
      {!page.data && !page.error && <p>Loading…</p>}
      {page.data && rows.length === 0 && <p>No runs match.</p>}
      {rows.length > 0 && (
        <ScrollBox label="Runs table">
          <table>
            <caption class="visually-hidden">Runs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Job</th>
                <th scope="col">Status</th>
                <th scope="col">Trigger</th>
                <th scope="col">Created</th>
                <th scope="col">Duration</th>
                <th scope="col">Worker</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((run) => (
                <tr key={run.id}>
                  <th scope="row">
                    <Link href={`/runs/${run.id}`}>#{run.id}</Link>
                  </th>
                  <td>{jobName.get(run.jobId) ?? `#${run.jobId}`}</td>
                  <td>
                    <Status value={run.status} />
                  </td>
                  <td>{run.triggerType}</td>
                  <td>{formatTime(run.createdAt)}</td>
                  <td>{formatDuration(run.startedAt, run.finishedAt)}</td>
                  <td class="mono">{run.workerId ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      )}
      {next && (
        <button type="button" onClick={() => void more()}>
          Older runs
        </button>
      )}
    </section>
  );
}

function isFinalStatus(status: string): boolean {
  return (
    status === 'SUCCEEDED' || status === 'FAILED' || status === 'STOPPED' || status === 'CANCELED'
  );
}
