import { z } from 'zod/v4';

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

const OkReply = z.object({ ok: z.literal(true), data: z.unknown() });
const ErrorReply = z.object({ ok: z.literal(false), error: ErrorBody });
// Typed by hand: the inferred type names zod 4.1+'s second type argument,
// which zod 3.25's `zod/v4` (a peer range we accept) does not have.
export const ReplyEnvelope: z.ZodDiscriminatedUnion<[typeof OkReply, typeof ErrorReply]> =
  z.discriminatedUnion('ok', [OkReply, ErrorReply]);
export type ReplyEnvelope = z.infer<typeof ReplyEnvelope>;
