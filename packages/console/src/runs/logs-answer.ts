import { apiViews } from '@drover/protocol';
import { z } from 'zod/v4';

/** `GET …/instances/:id/logs`: a page of lines in order. */
export const LogsAnswer = z.object({
  lines: z.array(apiViews.LogLineView),
  next: z.string().nullable(),
});
