import { DroverEvent, eventsSubject } from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';
import { zodIssues } from './issues.js';
import { LogLimiter } from './log-limiter.js';
import type { DroverLogger as Logger } from './logger.js';

const json = new TextDecoder();

// Subjects by app, then event type: a server publishes two events a run, and
// building a subject checks its app token with a regular expression.
const subjects = new Map<string, Map<string, string>>();
const MAX_CACHED_APPS = 1_024;

function subjectOf(app: string, type: string): string {
  let byType = subjects.get(app);
  const known = byType?.get(type);
  if (known !== undefined) return known;
  const subject = eventsSubject(app, type); // throws for an invalid app: nothing kept
  if (!byType) {
    if (subjects.size >= MAX_CACHED_APPS) subjects.clear();
    byType = new Map();
    subjects.set(app, byType);
  }
  byType.set(type, subject);
  return subject;
}

/** Publishes a lifecycle event (JSON) on drover.<app>.events.<type>; never throws. */
export function publishEvent(nc: NatsConnection, event: DroverEvent, log?: Logger): void {
  try {
    // Buffer.from, not TextEncoder: ~0.2 µs against ~0.8 µs for an event's few hundred bytes.
    nc.publish(subjectOf(event.app, event.type), Buffer.from(JSON.stringify(event)));
  } catch (err) {
    log?.debug({ err: (err as Error).message, type: event.type }, 'event not published');
  }
}

/**
 * Receives the lifecycle events of one app (or every app with `*`), each
 * validated; a malformed one is skipped with a rate-limited warning.
 * `onError` hears why the subscription ended, e.g. NATS refusing it to a key
 * without the permission (the subscription then receives nothing).
 */
export function subscribeEvents(
  nc: NatsConnection,
  app: string,
  onEvent: (event: DroverEvent) => void,
  log: Logger,
  onError: (err: Error) => void = (err) =>
    log.error({ err: err.message, subject: eventsSubject(app, '>') }, 'event subscription ended'),
): { stop(): void } {
  const subject = eventsSubject(app, '>');
  const bad = new LogLimiter(log.child({ subscription: subject }));
  const sub = nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) {
        onError(err);
        return;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(json.decode(msg.data));
      } catch {
        bad.warn({ subject: msg.subject }, 'event is not JSON');
        return;
      }
      const parsed = DroverEvent.safeParse(raw);
      if (parsed.success) onEvent(parsed.data);
      else bad.warn({ subject: msg.subject, issues: zodIssues(parsed.error) }, 'invalid event');
    },
  });
  return { stop: () => sub.unsubscribe() };
}
