/** What one handler did with the messages it received; every rejection is also an error. */
export interface RouteCounters {
  requests: number;
  /** badMsgpack + invalid + shed + refused + failed. */
  errors: number;
  /** Bytes that are not msgpack. */
  badMsgpack: number;
  /** Failed the route's schema. */
  invalid: number;
  /** Answered BUSY (tells: dropped) because the handler's slots and queue were full. */
  shed: number;
  /** The handler refused it on purpose (a HandlerError, or counted by the handler itself). */
  refused: number;
  /** The handler threw something else. */
  failed: number;
  /** Time spent validating and handling, in nanoseconds (what `$SRV.STATS` calls processing_time). */
  processingNs: number;
  lastError?: string;
}

export type RouteRejection = 'badMsgpack' | 'invalid' | 'shed' | 'refused' | 'failed';

export function newCounters(): RouteCounters {
  return {
    requests: 0,
    errors: 0,
    badMsgpack: 0,
    invalid: 0,
    shed: 0,
    refused: 0,
    failed: 0,
    processingNs: 0,
  };
}

export function countRejection(c: RouteCounters, kind: RouteRejection, reason: string): void {
  c[kind]++;
  c.errors++;
  c.lastError = reason;
}

/** The counters of every handler of one process, by subject (what `$SRV.STATS` shows per endpoint). */
export class RouteStats {
  private readonly bySubject = new Map<string, { handler: string; counters: RouteCounters }>();

  /** The counters of `subject`, served by the handler named `handler` (e.g. `report_finals`). */
  for(subject: string, handler = subject): RouteCounters {
    let entry = this.bySubject.get(subject);
    if (!entry) {
      entry = { handler, counters: newCounters() };
      this.bySubject.set(subject, entry);
    }
    return entry.counters;
  }

  get(subject: string): RouteCounters | undefined {
    return this.bySubject.get(subject)?.counters;
  }

  /** Every handler's counters with its name (metrics sum them by name). */
  *entries(): IterableIterator<{ subject: string; handler: string; counters: RouteCounters }> {
    for (const [subject, { handler, counters }] of this.bySubject)
      yield { subject, handler, counters };
  }
}
