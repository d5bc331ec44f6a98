// NATS header names Drover sets. Headers, not payload fields, so that every
// route carries them without each schema repeating them.
export const Header = {
  /** Same value on every try of one reliableAsk: the receiver dedupes on it. */
  IDEMPOTENCY_KEY: 'Drover-Idempotency-Key',
  /** 1 for the first try, 2 for the first retry, ... */
  ATTEMPT: 'Drover-Attempt',
  /** Carried from trigger to task, for tracing later. */
  TRACE_ID: 'Drover-Trace-Id',
  /**
   * The sender's clock as the message went out (after encoding): a timed
   * dispatch batch's transit is measured from it, not from its body's
   * `sentAt`, so encoding 500 runs (~1 ms) is not added to every start.
   */
  SENT_AT: 'Drover-Sent-At',
} as const;
