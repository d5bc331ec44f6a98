import type { ApiIssue } from '@drover/client';

/** The job form's fields, by the spec key the API names in an issue's path. */
export const JOB_FIELDS = [
  'name',
  'description',
  'processorName',
  'timeExpressionType',
  'timeExpression',
  'timeZone',
  'executeType',
  'jobParams',
  'maxConcurrentInstances',
  'instanceTimeoutMs',
] as const;
export type JobField = (typeof JOB_FIELDS)[number];

/** Each field's label, as the form shows it (the error summary names the field). */
export const JOB_FIELD_LABELS: Record<JobField, string> = {
  name: 'Name',
  description: 'Description',
  processorName: 'Processor',
  timeExpressionType: 'Schedule type',
  timeExpression: 'Schedule',
  timeZone: 'Time zone',
  executeType: 'Execute type',
  jobParams: 'Params (JSON)',
  maxConcurrentInstances: 'Max concurrent runs',
  instanceTimeoutMs: 'Run timeout (ms)',
};

/** A field's line in the error summary: its label, then the message. */
export function summaryLine(field: JobField, message: string): string {
  return `${JOB_FIELD_LABELS[field]}: ${message}`;
}

export interface FormErrors {
  /** The first message for each field the form shows (next to it). */
  fields: Partial<Record<JobField, string>>;
  /** Issues about something the form does not show, with their path. */
  other: string[];
}

/**
 * Sorts the API's issues (`path` like `body.timeExpression` or
 * `body.jobParams.limit`) onto the form's fields; the rest go to the summary.
 */
export function mapIssues(issues: readonly ApiIssue[], message?: string): FormErrors {
  const errors: FormErrors = { fields: {}, other: [] };
  for (const issue of issues) {
    const field = fieldOf(issue.path);
    if (field) errors.fields[field] ??= issue.message;
    else errors.other.push(issue.path ? `${issue.path}: ${issue.message}` : issue.message);
  }
  if (issues.length === 0 && message) errors.other.push(message);
  return errors;
}

function fieldOf(path: string): JobField | undefined {
  const parts = path.split(/[.[]/).filter(Boolean);
  const key = parts[0] === 'body' ? parts[1] : parts[0];
  return (JOB_FIELDS as readonly string[]).includes(key ?? '') ? (key as JobField) : undefined;
}

/** `Params (JSON)` as typed: its JSON value, or a field error. */
export function parseJsonField(
  text: string,
): { ok: true; value: unknown } | { ok: false; message: string } {
  if (text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, message: `not valid JSON (${(err as Error).message})` };
  }
}
