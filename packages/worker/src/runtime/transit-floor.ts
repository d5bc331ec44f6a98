/** Samples compared: a message is measured against the quickest of the last 10 s. */
const WINDOW_MS = 10_000;
/**
 * A delay up to this is taken off without question. Beyond it, the message
 * may have been held up (a stalled event loop on either side: seen at
 * 74 ms) or its sender's clock may have stepped: see STEP_CONFIRM_MS.
 */
export const MAX_CORRECTION_MS = 50;
/**
 * Messages beyond MAX_CORRECTION_MS for this long, with none on time between
 * and no gap of this long among them, mean the sender's clock stepped: a new
 * floor is taken. Until then each is taken as held up, and its whole delay
 * is taken off (a run then starts late only by the quickest transit, not by
 * a stall); a delay this long is a step at once.
 */
export const STEP_CONFIRM_MS = 1_000;

interface Sample {
  receivedAt: number;
  /** Receipt on this process's monotonic clock minus the sender's `sentAt`. */
  offset: number;
}

/**
 * How much later than usual a sender's message arrived. A run sent ahead of
 * its time says when to start as `startInMs` after the sender's `sentAt`;
 * counting it from the receipt would add the message's time in transit
 * (encoding 500 runs, a busy event loop on either side), which varies from
 * message to message. Against the quickest recent message of the same sender
 * clock, the extra delay of this one is known without synchronised clocks:
 * only the quickest transit (sub-millisecond on a LAN) stays in the start.
 */
export class TransitFloor {
  // Per sender clock, samples with increasing offsets: the first is the
  // window's quickest (a sliding-window minimum, O(1) per message).
  private readonly senders = new Map<string, Sample[]>();
  /** Per sender clock, its current run of messages beyond MAX_CORRECTION_MS: when it began, its latest. */
  private readonly lateRuns = new Map<string, { since: number; last: number }>();

  /** The delay of this message beyond the quickest recent one from `sender` (0 after a clock step). */
  excess(sender: string, sentAt: number, receivedAt: number): number {
    const offset = receivedAt - sentAt;
    let samples = this.senders.get(sender);
    if (!samples) {
      this.forgetIdle(receivedAt);
      samples = [];
      this.senders.set(sender, samples);
    }
    while (samples.length > 0 && (samples[0] as Sample).receivedAt < receivedAt - WINDOW_MS)
      samples.shift();
    while (samples.length > 0 && (samples[samples.length - 1] as Sample).offset >= offset)
      samples.pop();
    samples.push({ receivedAt, offset });
    const excess = offset - (samples[0] as Sample).offset;
    if (excess <= MAX_CORRECTION_MS) {
      this.lateRuns.delete(sender);
      return excess;
    }
    // Late messages a second apart are two stalls, not one lasting clock step.
    const previous = this.lateRuns.get(sender);
    const run =
      previous && receivedAt - previous.last < STEP_CONFIRM_MS
        ? { since: previous.since, last: receivedAt }
        : { since: receivedAt, last: receivedAt };
    if (receivedAt - run.since < STEP_CONFIRM_MS && excess < STEP_CONFIRM_MS) {
      this.lateRuns.set(sender, run);
      return excess;
    }
    this.lateRuns.delete(sender);
    samples.splice(0, samples.length - 1);
    return 0;
  }

  /**
   * When a message stamped `sentAt` would have arrived had it left at once
   * and been as quick as the quickest recent one. `publishedAt` (the
   * sender's clock once the body was encoded: Header.SENT_AT) keeps the
   * encoding out of the transit measured: for a 500-run batch it is ~1 ms,
   * which otherwise stays in the quickest transit and so in every start.
   */
  arrivedAt(sender: string, sentAt: number, receivedAt: number, publishedAt?: number): number {
    const encoding = publishedAt === undefined ? Number.NaN : publishedAt - sentAt;
    if (!(encoding >= 0 && encoding <= MAX_CORRECTION_MS))
      return receivedAt - this.excess(sender, sentAt, receivedAt);
    return receivedAt - this.excess(sender, publishedAt as number, receivedAt) - encoding;
  }

  /** Drops senders silent for a window (servers restart with new clock ids). */
  private forgetIdle(now: number): void {
    for (const [sender, samples] of this.senders) {
      const last = samples[samples.length - 1];
      if (!last || last.receivedAt < now - WINDOW_MS) {
        this.senders.delete(sender);
        this.lateRuns.delete(sender);
      }
    }
  }
}
