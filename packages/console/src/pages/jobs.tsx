import type { Instance, Job, Json } from '@drover/client';
import { useState } from 'preact/hooks';
import { Link, useLocation } from 'wouter-preact';
import { errorText } from '../api.js';
import { useConsole, useEvents } from '../context.js';
import { parseJsonField } from '../jobs/form-errors.js';
import { scheduleText, specText } from '../jobs/job-spec.js';
import { ErrorNote, PageTitle, Status, useLoad } from '../ui/bits.js';
import { formatTime } from '../ui/format.js';
import { Modal } from '../ui/modal.js';
import { ScrollBox } from '../ui/scroll-box.js';

interface JobsData {
  jobs: Job[];
  /** The newest run of each job among the latest runs. */
  lastStatus: Map<string, string>;
}

export function Jobs() {
  const { client } = useConsole();
  const [, navigate] = useLocation();
  const [notice, setNotice] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [deleting, setDeleting] = useState<Job | null>(null);
  const [running, setRunning] = useState<Job | null>(null);
  const list = useLoad<JobsData>(async () => {
    const [page, runs] = await Promise.all([
      client.listJobs({ limit: 1_000 }),
      client.listInstances({ limit: 500 }).catch(() => ({ instances: [] as Instance[] })),
    ]);
    const lastStatus = new Map<string, string>();
    for (const run of runs.instances)
      if (!lastStatus.has(run.jobId)) lastStatus.set(run.jobId, run.status);
    return { jobs: page.jobs, lastStatus };
  }, []);
  const [live, setLive] = useState(new Map<string, string>());

  useEvents((event) => {
    if (event.type === 'instance') setLive((m) => new Map(m).set(event.jobId, event.status));
  }, list.reload);

  const act = async (what: () => Promise<unknown>, done: string) => {
    setActionError(null);
    setNotice(null);
    try {
      await what();
      setNotice(done);
      list.reload();
    } catch (err) {
      setActionError(err);
    }
  };

  return (
    <section>
      <div class="title-row">
        <PageTitle>Jobs</PageTitle>
        <Link href="/jobs/new" class="button primary">
          New job
        </Link>
      </div>
      <ErrorNote error={list.error ?? actionError} />
      <p class="notice" role="status">
        {notice}
      </p>
      {!list.data && !list.error && <p>Loading…</p>}
      {list.data && list.data.jobs.length === 0 && <p>No jobs yet.</p>}
      {list.data && list.data.jobs.length > 0 && (
        <ScrollBox label="Jobs table">
          <table>
            <caption class="visually-hidden">Jobs of this app</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Schedule</th>
                <th scope="col">Next fire time</th>
                <th scope="col">Last run</th>
                <th scope="col">Enabled</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.jobs.map((job) => {
                const name = specText(job, 'name');
                const last = live.get(job.id) ?? list.data?.lastStatus.get(job.id);
                return (
                  <tr key={job.id}>
                    <th scope="row">
                      <Link href={`/jobs/${job.id}`}>{name}</Link>
                    </th>
                    <td>{scheduleText(job)}</td>
                    <td>{formatTime(job.nextTriggerAt)}</td>
                    <td>{last ? <Status value={last} /> : '—'}</td>
                    <td>{job.enabled ? 'yes' : 'no'}</td>
                    <td class="actions">
                      <button
                        type="button"
                        onClick={() =>
                          act(async () => {
                            const run = await client.runJob(job.id);
                            navigate(`/runs/${run.id}`);
                          }, `Started ${name}.`)
                        }
                      >
                        Run now
                      </button>
                      <button type="button" onClick={() => setRunning(job)}>
                        Run with params…
                      </button>
                      <button
                        type="button"
                        onClick={() =>
                          act(
                            () =>
                              job.enabled ? client.disableJob(job.id) : client.enableJob(job.id),
                            `${job.enabled ? 'Disabled' : 'Enabled'} ${name}.`,
                          )
                        }
                      >
                        {job.enabled ? 'Disable' : 'Enable'}
                      </button>
                      <button type="button" class="danger" onClick={() => setDeleting(job)}>
                        Delete
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </ScrollBox>
      )}
      {deleting && (
        <Modal title={`Delete ${specText(deleting, 'name')}?`} onClose={() => setDeleting(null)}>
          <p>The job and its run history are deleted. This cannot be undone.</p>
          <div class="buttons">
            <button
              type="button"
              class="danger"
              onClick={() => {
                const job = deleting;
                setDeleting(null);
                void act(() => client.deleteJob(job.id), `Deleted ${specText(job, 'name')}.`);
              }}
            >
              Delete job
            </button>
            <button type="button" onClick={() => setDeleting(null)}>
              Keep it
            </button>
          </div>
        </Modal>
      )}
      {running && (
        <RunWithParams
          job={running}
          onClose={() => setRunning(null)}
          onRun={async (params) => {
            const run = await client.runJob(running.id, params === undefined ? {} : { params });
            setRunning(null);
            navigate(`/runs/${run.id}`);
          }}
        />
      )}
    </section>
  );
}

function RunWithParams({
  job,
  onClose,
  onRun,
}: {
  job: Job;
  onClose: () => void;
  onRun: (params: Json | undefined) => Promise<void>;
}) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  return (
    <Modal title={`Run ${specText(job, 'name')}`} onClose={onClose}>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          const parsed = parseJsonField(text);
          if (!parsed.ok) return setError(parsed.message);
          onRun(parsed.value as Json | undefined).catch((err: unknown) => setError(errorText(err)));
        }}
      >
        <label for="run-params">Run params (JSON)</label>
        <textarea
          id="run-params"
          rows={5}
          value={text}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'run-params-error' : undefined}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        {error && (
          <p id="run-params-error" class="field-error">
            {error}
          </p>
        )}
        <div class="buttons">
          <button type="submit" class="primary">
            Start run
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
    </Modal>
  );
}
