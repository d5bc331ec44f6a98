import { NonRetryableError, type PayloadSchema } from './processor.js';
import type { StandardSchemaIssue } from './standard-schema.js';

// A map processor's payload schema checks each mapped task's payload before
// the processor sees it. Any Standard Schema object works, found by its
// `~standard` property, so users bring zod 3 or 4 (or another library).

/** Thrown for a payload its schema rejects: the task fails for good, naming the issues. */
export class InvalidPayloadError extends NonRetryableError {}

/** The payload as the schema outputs it; throws InvalidPayloadError naming every issue. */
export async function checkPayload<T>(
  schema: PayloadSchema<T>,
  payload: unknown,
  where: string,
): Promise<T> {
  const standard = schema['~standard'];
  if (typeof standard?.validate !== 'function')
    throw new NonRetryableError(
      `${where}: its payload schema is not a Standard Schema (no ~standard.validate); use zod 3.24+ or 4`,
    );
  const checked = await standard.validate(payload);
  if (!checked.issues) return checked.value;
  throw new InvalidPayloadError(
    `invalid payload for ${where}: ${checked.issues.map(describeIssue).join('; ')}`,
  );
}

function describeIssue(issue: StandardSchemaIssue): string {
  const path = (issue.path ?? [])
    .map((p) => (typeof p === 'object' && p !== null && 'key' in p ? p.key : p))
    .map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`))
    .join('');
  return `payload${path}: ${issue.message}`;
}
