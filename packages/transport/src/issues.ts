import type { FieldIssue } from '@drover/protocol';
import type { z } from 'zod/v4';

/** Turns a zod error into `{path, message}` pairs with dotted paths (`tasks.3.taskId`). */
export function zodIssues(error: z.ZodError, max = 20): FieldIssue[] {
  return error.issues.slice(0, max).map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}
