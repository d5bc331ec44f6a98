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
  lastError?: string;
}

export type RouteRejection = 'badMsgpack' | 'invalid' | 'shed' | 'refused' | 'failed';

export function newCounters(): RouteCounters {
  return { requests: 0, errors: 0, badMsgpack: 0, invalid: 0, shed: 0, refused: 0, failed: 0 };
}

export function countRejection(c: RouteCounters, kind: RouteRejection, reason: string): void {
  c[kind]++;
  c.errors++;
  c.lastError = reason;
}

/** The counters of every handler of one process, by subject (what `$SRV.STATS` shows per endpoint). */
export class RouteStats {
  private readonly bySubject = new Map<string, RouteCounters>();

  for(subject: string): RouteCounters {
    let c = this.bySubject.get(subject);
    if (!c) {
      c = newCounters();
      this.bySubject.set(subject, c);
    }
    return c;
  }

  get(subject: string): RouteCounters | undefined {
    return this.bySubject.get(subject);
  }
}
