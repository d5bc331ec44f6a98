import { TimeExpressionType } from '@drover/protocol';
import { Cron } from 'croner';

// When a job fires. CRON and ONE_SHOT produce schedule slots the server turns
// into instances; FIXED_RATE/FIXED_DELAY jobs run as one long-lived instance
// whose TaskTracker fires every interval (no row per firing); API and
// WORKFLOW jobs fire only when asked.

export const MIN_INTERVAL_MS = 100;
export const MAX_INTERVAL_MS = 365 * 24 * 3_600_000;

export interface Schedule {
  timeExpressionType: TimeExpressionType;
  timeExpression?: string;
  timeZone: string;
  lifecycle?: { start?: number | string; end?: number | string };
  /** When the job was created or last changed (anchor for ONE_SHOT delays). */
  anchorMs?: number;
}

// Parsing a pattern costs more than computing a run from it: keep parsed ones.
const parsed = new Map<string, Cron>();

function cron(pattern: string, timeZone: string): Cron {
  const key = `${timeZone} ${pattern}`;
  let c = parsed.get(key);
  if (!c) {
    c = new Cron(pattern, { timezone: timeZone, paused: true });
    if (parsed.size >= 10_000) parsed.clear();
    parsed.set(key, c);
  }
  return c;
}

/** A problem with the expression, in words, or undefined when it is fine. */
export function validateTimeExpression(
  type: TimeExpressionType,
  expression: string | undefined,
  timeZone: string,
): string | undefined {
  switch (type) {
    case 'CRON':
      if (!expression) return 'a CRON job needs a cron pattern, e.g. "*/5 * * * * *"';
      try {
        cron(expression, timeZone);
        return undefined;
      } catch (err) {
        return `invalid cron pattern: ${(err as Error).message}`;
      }
    case 'FIXED_RATE':
    case 'FIXED_DELAY': {
      const ms = Number(expression);
      if (!expression || !Number.isInteger(ms) || ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) {
        return `must be the interval in milliseconds, an integer of at least ${MIN_INTERVAL_MS} and at most ${MAX_INTERVAL_MS} (365 days)`;
      }
      return undefined;
    }
    case 'ONE_SHOT':
      if (!expression) return 'a ONE_SHOT job needs an ISO time or a delay in milliseconds';
      // A delay past any real date would be stored as an invalid time.
      if (/^\d+$/.test(expression) && Number(expression) > MAX_INTERVAL_MS)
        return `a delay may be at most ${MAX_INTERVAL_MS} ms (365 days); give a later time as ISO 8601`;
      return Number.isNaN(oneShotAt(expression, 0))
        ? 'must be an ISO 8601 time or a delay in milliseconds'
        : undefined;
    case 'API':
    case 'WORKFLOW':
      return expression ? `${type} jobs take no timeExpression` : undefined;
  }
}

function oneShotAt(expression: string, anchorMs: number): number {
  if (/^\d+$/.test(expression)) return anchorMs + Number(expression);
  return /^\d{4}-\d\d-\d\dT/.test(expression) ? Date.parse(expression) : Number.NaN;
}

function instantMs(value: number | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'number' ? value : Date.parse(value);
}

/** Whether the job schedules slots itself (as opposed to frequent, API or workflow jobs). */
export function isSlotScheduled(type: TimeExpressionType): boolean {
  return type === TimeExpressionType.CRON || type === TimeExpressionType.ONE_SHOT;
}

export function isFrequent(type: TimeExpressionType): boolean {
  return type === TimeExpressionType.FIXED_RATE || type === TimeExpressionType.FIXED_DELAY;
}

/**
 * The first slot strictly after `afterMs`, inside the lifecycle window, or
 * null when there is none. For frequent jobs: the next tick, for previews.
 */
export function nextTrigger(schedule: Schedule, afterMs: number): number | null {
  const start = instantMs(schedule.lifecycle?.start);
  const end = instantMs(schedule.lifecycle?.end);
  // Start inclusive: search from just before it.
  const from = start !== undefined && start - 1 > afterMs ? start - 1 : afterMs;
  let next: number | null;
  switch (schedule.timeExpressionType) {
    case 'CRON': {
      const date = cron(schedule.timeExpression ?? '', schedule.timeZone).nextRun(new Date(from));
      next = date ? date.getTime() : null;
      break;
    }
    case 'ONE_SHOT': {
      const at = oneShotAt(schedule.timeExpression ?? '', schedule.anchorMs ?? 0);
      next = at > from ? at : null;
      break;
    }
    case 'FIXED_RATE':
    case 'FIXED_DELAY':
      next = from + Number(schedule.timeExpression);
      break;
    default:
      next = null;
  }
  if (next === null || (end !== undefined && next >= end)) return null;
  return next;
}

/** The next `count` fire times after `afterMs`, for previews. */
export function previewTriggers(schedule: Schedule, afterMs: number, count: number): number[] {
  const times: number[] = [];
  let at = afterMs;
  while (times.length < count) {
    const next = nextTrigger(schedule, at);
    if (next === null) break;
    times.push(next);
    at = next;
  }
  return times;
}
