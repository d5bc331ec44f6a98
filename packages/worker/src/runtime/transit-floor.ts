/** Samples compared: a message is measured against the quickest of the last 10 s. */
const WINDOW_MS = 10_000;
/**
 * The most a message is taken to have been held up. A larger gap means the
 * sender's clock stepped (or the message waited unusually long): it starts
 * a new window rather than moving start times by that much.
 */
export const MAX_CORRECTION_MS = 50;

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

  /** The delay of this message beyond the quickest recent one from `sender` (0 to MAX_CORRECTION_MS). */
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
    if (excess <= MAX_CORRECTION_MS) return excess;
    samples.splice(0, samples.length - 1);
    return 0;
  }

  /** Drops senders silent for a window (servers restart with new clock ids). */
  private forgetIdle(now: number): void {
    for (const [sender, samples] of this.senders) {
      const last = samples[samples.length - 1];
      if (!last || last.receivedAt < now - WINDOW_MS) this.senders.delete(sender);
    }
  }
}
