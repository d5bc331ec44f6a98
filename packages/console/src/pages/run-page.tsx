import { DroverApiError, type Instance, type LogLine } from '@drover/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Link, useLocation, useRoute } from 'wouter-preact';
import { useConsole, useEvents } from '../context.js';
import { mergeLogLines } from '../runs/log-lines.js';
import { LogsAnswer } from '../runs/logs-answer.js';
import { deriveStatusHistory, type StatusEventLike } from '../runs/status-history.js';
import { ErrorNote, PageTitle, Status } from '../ui/bits.js';
import { formatDuration, formatJson, formatTime } from '../ui/format.js';

const FINAL = ['SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED'];
const LOG_PAGE = 1_000;

/** One run: status (live), history, progress, result, retry chain, logs following live. */
export function RunPage() {
  const { client } = useConsole();
  const [, params] = useRoute<{ id: string }>('/runs/:id');
  const id = params?.id ?? '';
  const [, navigate] = useLocation();
  const [run, setRun] = useState<Instance | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [events, setEvents] = useState<StatusEventLike[]>([]);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [chain, setChain] = useState<Instance[]>([]);
  const [acting, setActing] = useState(false);
  const lastLogId = useRef<string | undefined>(undefined);
  const [jobName, setJobName] = useState<string | null>(null);
  useEffect(() => {
    if (!run?.jobId) return;
    client.getJob(run.jobId).then(
      (job) => setJobName(typeof job.spec.name === 'string' ? job.spec.name : null),
      () => setJobName(null),
    );
  }, [client, run?.jobId]);

  const loadRun = () =>
    client.getInstance(id).then(
      (r) => {
        setRun(r);
        setError(null);
      },
      (err: unknown) => setError(err),
    );

  /** Pages of stored lines after the last one shown (all of them on first load). */
  const loadLogs = async () => {
    for (let page = 0; page < 20; page++) {
      const answer = await client.request(
        LogsAnswer,
        'GET',
        `/apps/${encodeURIComponent(client.app)}/instances/${encodeURIComponent(id)}/logs?limit=${LOG_PAGE}${
          lastLogId.current ? `&after=${lastLogId.current}` : ''
        }`,
      );
      if (answer.lines.length) {
        lastLogId.current = answer.lines.at(-1)?.id;
        setLines((shown) => mergeLogLines(shown, answer.lines));
      }
      if (answer.lines.length < LOG_PAGE) return;
    }
  };

  // Subscribed before the first reads, so nothing between the read and the stream is lost.
  useEvents(
    (event) => {
      if (event.type === 'log' && event.instanceId === id) {
        const newest = event.lines.at(-1)?.id;
        if (newest && (!lastLogId.current || BigInt(newest) > BigInt(lastLogId.current)))
          lastLogId.current = newest;
        setLines((shown) => mergeLogLines(shown, event.lines));
      } else if (event.type === 'progress' && event.instanceId === id) {
        setRun((r) => (r ? { ...r, progress: event.progress } : r));
      } else if (event.type === 'instance' && event.instanceId === id) {
        setEvents((es) => [
          ...es,
          { status: event.status, at: event.at, workerId: event.workerId },
        ]);
        setRun((r) =>
          r
            ? {
                ...r,
                status: event.status,
                workerId: event.workerId ?? r.workerId,
                reason: event.reason ?? r.reason,
                result: event.result ?? r.result,
              }
            : r,
        );
        // The event carries no timestamps of the row: read it once at the end for them.
        if (FINAL.includes(event.status)) void loadRun();
      }
    },
    () => {
      void loadRun();
      void loadLogs().catch(() => undefined);
    },
  );

  useEffect(() => {
    setRun(null);
    setEvents([]);
    setLines([]);
    setChain([]);
    lastLogId.current = undefined;
    void loadRun();
    loadLogs().catch((err: unknown) => setError(err));
  }, [id]);

  // The runs this one retries, oldest first (each points at the one before by retryOf).
  useEffect(() => {
    let stop = false;
    (async () => {
      const found: Instance[] = [];
      let previous = run?.retryOf ?? null;
      while (previous && found.length < 20 && !stop) {
        const earlier = await client.getInstance(previous);
        found.unshift(earlier);
        previous = earlier.retryOf;
      }
      if (!stop) setChain(found);
    })().catch(() => undefined);
    return () => {
      stop = true;
    };
  }, [client, run?.retryOf]);

  const act = async (what: 'stop' | 'cancel' | 'retry') => {
    setActing(true);
    setError(null);
    try {
      if (what === 'stop') setRun(await client.stopInstance(id));
      else if (what === 'cancel') setRun(await client.cancelInstance(id));
      else navigate(`/runs/${(await client.retryInstance(id)).id}`);
    } catch (err) {
      setError(err);
      if (err instanceof DroverApiError && err.status === 409) void loadRun();
    } finally {
      setActing(false);
    }
  };

  if (!run)
    return (
      <section>
        <PageTitle>Run #{id}</PageTitle>
        {error ? <ErrorNote error={error} /> : <p>Loading…</p>}
      </section>
    );

  const final = FINAL.includes(run.status);
  const waiting = run.status.startsWith('WAITING');
  const history = deriveStatusHistory(run, events);
  const progress = run.progress;
  const done = progress ? progress.succeeded + progress.failed : 0;

  return (
    <section class="run-page">
      <PageTitle>Run #{run.id}</PageTitle>
      <div class="run-head">
        <p class="run-status">
          Status: <span role="status">{run.status}</span>
        </p>
        <div class="buttons">
          {!final && (
            <button type="button" class="danger" disabled={acting} onClick={() => void act('stop')}>
              Stop
            </button>
          )}
          {waiting && (
            <button type="button" disabled={acting} onClick={() => void act('cancel')}>
              Cancel
            </button>
          )}
          {(run.status === 'FAILED' || run.status === 'STOPPED' || run.status === 'CANCELED') && (
            <button
              type="button"
              class="primary"
              disabled={acting}
              onClick={() => void act('retry')}
            >
              Retry
            </button>
          )}
        </div>
      </div>
      <ErrorNote error={error} />
      <dl class="facts">
        <dt>Job</dt>
        <dd>
          <Link href={`/runs?job=${run.jobId}`}>{jobName ?? `#${run.jobId}`}</Link>
        </dd>
        <dt>Trigger</dt>
        <dd>{run.triggerType}</dd>
        <dt>Worker</dt>
        <dd class="mono">{run.workerId ?? '—'}</dd>
        <dt>Created</dt>
        <dd>{formatTime(run.createdAt)}</dd>
        <dt>Started</dt>
        <dd>{formatTime(run.startedAt)}</dd>
        <dt>Finished</dt>
        <dd>{formatTime(run.finishedAt)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(run.startedAt, run.finishedAt)}</dd>
        <dt>Attempt</dt>
        <dd>{run.runAttempt}</dd>
      </dl>
      {progress && progress.total > 0 && (
        <div class="progress-block">
          <div class="progress-label" id="tasks-label">
            Tasks: {done} of {progress.total} finished ({progress.succeeded} succeeded,{' '}
            {progress.failed} failed, {progress.running} running)
          </div>
          <div
            role="progressbar"
            aria-label="Tasks"
            aria-valuemin={0}
            aria-valuemax={progress.total}
            aria-valuenow={done}
            aria-valuetext={`${done} of ${progress.total} tasks finished`}
            class="progressbar"
          >
            <div
              class="bar ok"
              style={{ width: `${(100 * progress.succeeded) / progress.total}%` }}
            />
            <div
              class="bar bad"
              style={{ width: `${(100 * progress.failed) / progress.total}%` }}
            />
          </div>
        </div>
      )}
      {run.reason && (
        <div class="block">
          <h2>Reason</h2>
          <pre class="pre">{run.reason}</pre>
        </div>
      )}
      {final && run.result !== null && run.result !== undefined && (
        <div class="block">
          <h2>Result</h2>
          <pre class="pre">{formatJson(run.result)}</pre>
        </div>
      )}
      {run.params !== null && run.params !== undefined && (
        <div class="block">
          <h2>Params</h2>
          <pre class="pre">{formatJson(run.params)}</pre>
        </div>
      )}
      <div class="columns">
        <div class="block">
          <h2 id="history-title">Status history</h2>
          <ol aria-labelledby="history-title" class="history">
            {history.map((entry, i) => (
              <li key={`${entry.status}-${entry.at}-${i}`}>
                <Status value={entry.status} /> <span class="muted">{formatTime(entry.at)}</span>
                {entry.workerId && <span class="muted mono"> on {entry.workerId}</span>}
              </li>
            ))}
          </ol>
        </div>
        {(run.retryOf || chain.length > 0) && (
          <div class="block">
            <h2 id="chain-title">Retry chain</h2>
            <ol aria-labelledby="chain-title">
              {chain.map((earlier) => (
                <li key={earlier.id}>
                  <Link href={`/runs/${earlier.id}`}>#{earlier.id}</Link>{' '}
                  <Status value={earlier.status} />
                </li>
              ))}
              <li aria-current="page">
                #{run.id} <Status value={run.status} /> (this run)
              </li>
            </ol>
          </div>
        )}
      </div>
      <Logs lines={lines} live={!final} />
    </section>
  );
}

function Logs({ lines, live }: { lines: LogLine[]; live: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  useEffect(() => {
    const el = box.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <section aria-labelledby="logs-title" class="block">
      <h2 id="logs-title">Logs</h2>
      <p class="hint">{live ? 'Following live.' : `${lines.length} lines.`}</p>
      <div
        ref={box}
        class="logs"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling box must be reachable by keyboard to scroll it
        tabIndex={0}
        role="log"
        aria-live="off"
        aria-label="Log lines"
        onScroll={(e) => {
          const el = e.currentTarget;
          atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {lines.length === 0 && <p class="muted">No log lines yet.</p>}
        {lines.map((line) => (
          <div key={line.id} class={`log log-${line.level}`}>
            <time class="muted">{new Date(line.ts).toISOString().slice(11, 23)}</time>{' '}
            <span class="level">{line.level.toUpperCase()}</span> {line.message}
            {line.taskId && <span class="muted"> (task {line.taskId})</span>}
          </div>
        ))}
      </div>
    </section>
  );
}
