import type { Job, JobSpecInput } from '@drover/client';

/** What the job list shows of a spec (the API keeps it as a free-form record). */
export function specText(job: Job, key: string): string {
  const value = job.spec[key];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

export function scheduleText(job: Job): string {
  const type = specText(job, 'timeExpressionType');
  const expression = specText(job, 'timeExpression');
  if (type === 'FIXED_RATE' || type === 'FIXED_DELAY') return `${type} every ${expression} ms`;
  return expression ? `${type} ${expression}` : type;
}

/** The spec a job was saved with, as the PUT body (the form overlays its fields on it). */
export function specOf(job: Job): JobSpecInput {
  return job.spec as unknown as JobSpecInput;
}
