import { DroverApiError, type JobSpecInput, type Json } from '@drover/client';
import type { ExecuteType, TimeExpressionType } from '@drover/protocol';
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Link, useLocation, useRoute } from 'wouter-preact';
import { errorText } from '../api.js';
import { useConsole } from '../context.js';
import {
  type FormErrors,
  JOB_FIELD_LABELS,
  type JobField,
  mapIssues,
  parseJsonField,
  summaryLine,
} from '../jobs/form-errors.js';
import { specOf } from '../jobs/job-spec.js';
import { PageTitle } from '../ui/bits.js';
import { formatTime } from '../ui/format.js';

const SCHEDULE_TYPES = ['CRON', 'FIXED_RATE', 'FIXED_DELAY', 'API', 'ONE_SHOT'] as const;
const EXECUTE_TYPES = ['STANDALONE', 'BROADCAST', 'MAP', 'MAP_REDUCE'] as const;
const SCHEDULE_HINT: Record<string, string> = {
  CRON: 'A CRON pattern, e.g. */5 * * * * (seconds field optional: 0 */5 * * * *).',
  FIXED_RATE: 'Milliseconds between starts, e.g. 60000.',
  FIXED_DELAY: 'Milliseconds from one run’s end to the next start.',
  API: 'None: the job runs when asked (Run now, the API).',
  ONE_SHOT: 'An ISO time, or a delay in milliseconds.',
};

interface Fields {
  name: string;
  description: string;
  processorName: string;
  timeExpressionType: string;
  timeExpression: string;
  timeZone: string;
  executeType: string;
  jobParams: string;
  maxConcurrentInstances: string;
  instanceTimeoutMs: string;
  enabled: boolean;
}

const EMPTY: Fields = {
  name: '',
  description: '',
  processorName: '',
  timeExpressionType: 'CRON',
  timeExpression: '',
  timeZone: '',
  executeType: 'STANDALONE',
  jobParams: '',
  maxConcurrentInstances: '',
  instanceTimeoutMs: '',
  enabled: true,
};

/** Create (`/jobs/new`) or edit (`/jobs/:id`) a job; the API's issues show next to their fields. */
export function JobForm() {
  const { client } = useConsole();
  const [, params] = useRoute<{ id: string }>('/jobs/:id');
  // `/jobs/:id` matches `/jobs/new` too: that page creates a job.
  const id = params?.id === 'new' ? undefined : params?.id;
  const [, navigate] = useLocation();
  const [fields, setFields] = useState<Fields>(EMPTY);
  const [base, setBase] = useState<JobSpecInput | null>(null);
  const [errors, setErrors] = useState<FormErrors>({ fields: {}, other: [] });
  const [loadError, setLoadError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    if (!id) return;
    client.getJob(id).then(
      (job) => {
        const spec = specOf(job);
        setBase(spec);
        setFields({
          name: spec.name ?? '',
          description: spec.description ?? '',
          processorName: spec.processorName ?? '',
          timeExpressionType: spec.timeExpressionType ?? 'API',
          timeExpression: spec.timeExpression ?? '',
          timeZone: spec.timeZone ?? '',
          executeType: spec.executeType ?? 'STANDALONE',
          jobParams: spec.jobParams === undefined ? '' : JSON.stringify(spec.jobParams, null, 2),
          maxConcurrentInstances: numberText(spec.maxConcurrentInstances),
          instanceTimeoutMs: numberText(spec.instanceTimeoutMs),
          enabled: job.enabled,
        });
      },
      (err: unknown) => setLoadError(errorText(err)),
    );
  }, [id, client]);

  const set = (key: keyof Fields) => (event: Event) => {
    const target = event.currentTarget as HTMLInputElement;
    const value = target.type === 'checkbox' ? target.checked : target.value;
    setFields((f) => ({ ...f, [key]: value }));
  };

  const spec = (): JobSpecInput | FormErrors => {
    const params = parseJsonField(fields.jobParams);
    if (!params.ok) return { fields: { jobParams: params.message }, other: [] };
    const out: JobSpecInput = {
      ...(base ?? {}),
      name: fields.name.trim(),
      processorName: fields.processorName.trim(),
      timeExpressionType: fields.timeExpressionType as TimeExpressionType,
      executeType: fields.executeType as ExecuteType,
      enabled: fields.enabled,
    };
    optional(out, 'description', fields.description.trim() || undefined);
    optional(out, 'timeExpression', fields.timeExpression.trim() || undefined);
    optional(out, 'timeZone', fields.timeZone.trim() || undefined);
    optional(out, 'jobParams', params.value as Json | undefined);
    optional(out, 'maxConcurrentInstances', numberOrText(fields.maxConcurrentInstances));
    optional(out, 'instanceTimeoutMs', numberOrText(fields.instanceTimeoutMs));
    return out;
  };

  const save = async (event: Event) => {
    event.preventDefault();
    const body = spec();
    if (!('timeExpressionType' in body)) return setErrors(body as FormErrors);
    setSaving(true);
    setErrors({ fields: {}, other: [] });
    try {
      if (id) await client.updateJob(id, body);
      else await client.createJob(body);
      navigate('/jobs');
    } catch (err) {
      setErrors(
        err instanceof DroverApiError
          ? mapIssues(err.issues, err.message)
          : { fields: {}, other: [errorText(err)] },
      );
    } finally {
      setSaving(false);
    }
  };

  const problems = Object.keys(errors.fields).length + errors.other.length;
  const field = (key: JobField, label: string, control: ComponentChildren, hint?: string) => (
    <Field id={`job-${key}`} label={label} error={errors.fields[key]} hint={hint}>
      {control}
    </Field>
  );
  const aria = (key: JobField, hint = false) => ({
    id: `job-${key}`,
    'aria-invalid': errors.fields[key] ? true : undefined,
    'aria-describedby':
      [errors.fields[key] ? `job-${key}-error` : '', hint ? `job-${key}-hint` : '']
        .filter(Boolean)
        .join(' ') || undefined,
  });

  return (
    <section>
      <PageTitle>{id ? `Edit job ${fields.name || `#${id}`}` : 'New job'}</PageTitle>
      <p>
        <Link href="/jobs">Back to jobs</Link>
      </p>
      {loadError && (
        <p class="error" role="alert">
          {loadError}
        </p>
      )}
      <form class="form card job-form" onSubmit={save} noValidate>
        {problems > 0 && (
          <div class="error-summary" role="alert">
            <p>
              The job was not saved: {problems} {problems === 1 ? 'problem' : 'problems'}.
            </p>
            <ul>
              {Object.entries(errors.fields).map(([key, message]) => (
                <li key={key}>
                  <a href={`#job-${key}`}>{summaryLine(key as JobField, message)}</a>
                </li>
              ))}
              {errors.other.map((message) => (
                <li key={message}>{message}</li>
              ))}
            </ul>
          </div>
        )}
        {field(
          'name',
          JOB_FIELD_LABELS.name,
          <input {...aria('name')} value={fields.name} onInput={set('name')} />,
        )}
        {field(
          'description',
          JOB_FIELD_LABELS.description,
          <input
            {...aria('description')}
            value={fields.description}
            onInput={set('description')}
          />,
        )}
        {field(
          'processorName',
          JOB_FIELD_LABELS.processorName,
          <input
            {...aria('processorName')}
            value={fields.processorName}
            onInput={set('processorName')}
          />,
        )}
        {field(
          'timeExpressionType',
          JOB_FIELD_LABELS.timeExpressionType,
          <select
            {...aria('timeExpressionType')}
            value={fields.timeExpressionType}
            onChange={set('timeExpressionType')}
          >
            {SCHEDULE_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>,
        )}
        {field(
          'timeExpression',
          JOB_FIELD_LABELS.timeExpression,
          <input
            {...aria('timeExpression', true)}
            aria-describedby={[
              aria('timeExpression', true)['aria-describedby'],
              'job-preview-problem',
            ]
              .filter(Boolean)
              .join(' ')}
            value={fields.timeExpression}
            onInput={set('timeExpression')}
            disabled={fields.timeExpressionType === 'API'}
            spellcheck={false}
            autoComplete="off"
          />,
          SCHEDULE_HINT[fields.timeExpressionType],
        )}
        {field(
          'timeZone',
          JOB_FIELD_LABELS.timeZone,
          <input
            {...aria('timeZone', true)}
            value={fields.timeZone}
            onInput={set('timeZone')}
            placeholder="the server's (UTC)"
          />,
          'An IANA zone for CRON, e.g. Europe/Paris.',
        )}
        <Preview fields={fields} />
        {field(
          'executeType',
          JOB_FIELD_LABELS.executeType,
          <select {...aria('executeType')} value={fields.executeType} onChange={set('executeType')}>
            {EXECUTE_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>,
        )}
        {field(
          'jobParams',
          JOB_FIELD_LABELS.jobParams,
          <textarea
            {...aria('jobParams')}
            rows={4}
            value={fields.jobParams}
            onInput={set('jobParams')}
            spellcheck={false}
          />,
        )}
        {field(
          'maxConcurrentInstances',
          JOB_FIELD_LABELS.maxConcurrentInstances,
          <input
            {...aria('maxConcurrentInstances')}
            inputMode="numeric"
            value={fields.maxConcurrentInstances}
            onInput={set('maxConcurrentInstances')}
          />,
        )}
        {field(
          'instanceTimeoutMs',
          JOB_FIELD_LABELS.instanceTimeoutMs,
          <input
            {...aria('instanceTimeoutMs')}
            inputMode="numeric"
            value={fields.instanceTimeoutMs}
            onInput={set('instanceTimeoutMs')}
          />,
        )}
        <div class="field checkbox">
          <input
            id="job-enabled"
            type="checkbox"
            checked={fields.enabled}
            onChange={set('enabled')}
          />
          <label for="job-enabled">Enabled</label>
        </div>
        <div class="buttons">
          <button type="submit" class="primary" disabled={saving}>
            Save
          </button>
          <Link href="/jobs" class="button">
            Cancel
          </Link>
        </div>
      </form>
    </section>
  );
}

function Field({
  id,
  label,
  error,
  hint,
  children,
}: {
  id: string;
  label: string;
  error?: string;
  hint?: string;
  children: ComponentChildren;
}) {
  return (
    <div class={`field${error ? ' invalid' : ''}`}>
      <label for={id}>{label}</label>
      {children}
      {hint && (
        <p id={`${id}-hint`} class="hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} class="field-error">
          {error}
        </p>
      )}
    </div>
  );
}

/** The next fire times of the schedule as typed, from `POST …/jobs/preview` (debounced). */
function Preview({ fields }: { fields: Fields }) {
  const { client } = useConsole();
  const [times, setTimes] = useState<number[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const { timeExpressionType: type, timeExpression: expression, timeZone } = fields;
  const shown = type === 'CRON' || type === 'FIXED_RATE' || type === 'ONE_SHOT';

  useEffect(() => {
    if (!shown || !expression.trim()) {
      setTimes(null);
      setProblem(null);
      return;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => {
      const body: JobSpecInput = {
        name: 'preview',
        processorName: 'preview',
        timeExpressionType: type as TimeExpressionType,
        timeExpression: expression.trim(),
      };
      if (timeZone.trim()) body.timeZone = timeZone.trim();
      client.previewJob(body).then(
        (next) => {
          if (controller.signal.aborted) return;
          setTimes(next);
          setProblem(null);
        },
        (err: unknown) => {
          if (controller.signal.aborted) return;
          setTimes(null);
          setProblem(
            err instanceof DroverApiError && err.issues.length
              ? err.issues.map((i) => i.message).join('; ')
              : errorText(err),
          );
        },
      );
    }, 300);
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [client, shown, type, expression, timeZone]);

  if (!shown) return null;
  return (
    <div class="preview" aria-live="polite">
      <h2 id="preview-title" class="small-title">
        Next fire times
      </h2>
      {problem && (
        <p id="job-preview-problem" class="field-error">
          {problem}
        </p>
      )}
      {!problem && !times && <p class="hint">Type a schedule to see when it fires.</p>}
      <ul aria-labelledby="preview-title" class="preview-list">
        {(times ?? []).map((t) => (
          <li key={t}>{formatTime(t)}</li>
        ))}
      </ul>
    </div>
  );
}

function numberText(value: unknown): string {
  return typeof value === 'number' ? String(value) : '';
}

/** A number as typed; a non-number is sent as the text so the API names the field. */
function numberOrText(text: string): number | undefined {
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : (trimmed as unknown as number);
}

function optional<K extends keyof JobSpecInput>(
  spec: JobSpecInput,
  key: K,
  value: JobSpecInput[K] | undefined,
) {
  if (value === undefined) delete spec[key];
  else spec[key] = value;
}
