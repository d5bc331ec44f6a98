import { z } from 'zod';

// Every reply is one of these two shapes, so a caller can tell a handler's
// failure from its data without guessing.

export const ErrorBody = z.object({
  code: z.string().min(1).max(64),
  message: z.string().max(4096),
  retryable: z.boolean().optional(),
  issues: z
    .array(z.object({ path: z.string(), message: z.string() }))
    .max(100)
    .optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export const ReplyEnvelope = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), data: z.unknown() }),
  z.object({ ok: z.literal(false), error: ErrorBody }),
]);
export type ReplyEnvelope = z.infer<typeof ReplyEnvelope>;
