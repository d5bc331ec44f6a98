import { describe, expect, it } from 'vitest';
import {
  JobSpecInput,
  nextTrigger,
  previewTriggers,
  validateTimeExpression,
} from '../src/index.js';

const at = (iso: string) => Date.parse(iso);

describe('time expressions', () => {
  it('fires CRON with a seconds field', () => {
    const s = {
      timeExpressionType: 'CRON' as const,
      timeExpression: '*/15 * * * * *',
      timeZone: 'UTC',
    };
    expect(previewTriggers(s, at('2026-01-01T00:00:01Z'), 3)).toEqual([
      at('2026-01-01T00:00:15Z'),
      at('2026-01-01T00:00:30Z'),
      at('2026-01-01T00:00:45Z'),
    ]);
  });

  it('fires CRON every second, strictly after the given time', () => {
    const s = {
      timeExpressionType: 'CRON' as const,
      timeExpression: '* * * * * *',
      timeZone: 'UTC',
    };
    expect(nextTrigger(s, at('2026-01-01T00:00:01.000Z'))).toBe(at('2026-01-01T00:00:02Z'));
    expect(nextTrigger(s, at('2026-01-01T00:00:01.500Z'))).toBe(at('2026-01-01T00:00:02Z'));
  });

  it('reads CRON in the job’s time zone', () => {
    const s = {
      timeExpressionType: 'CRON' as const,
      timeExpression: '0 0 9 * * *',
      timeZone: 'Europe/Paris',
    };
    // 09:00 in Paris in winter is 08:00 UTC.
    expect(nextTrigger(s, at('2026-01-10T00:00:00Z'))).toBe(at('2026-01-10T08:00:00Z'));
  });

  it('keeps to the lifecycle window', () => {
    const s = {
      timeExpressionType: 'CRON' as const,
      timeExpression: '0 * * * * *',
      timeZone: 'UTC',
      lifecycle: { start: '2026-01-01T00:10:00Z', end: at('2026-01-01T00:12:00Z') },
    };
    expect(previewTriggers(s, at('2026-01-01T00:00:00Z'), 5)).toEqual([
      at('2026-01-01T00:10:00Z'),
      at('2026-01-01T00:11:00Z'),
    ]);
  });

  it('fires a one-shot once, at a time or after a delay from its anchor', () => {
    const iso = {
      timeExpressionType: 'ONE_SHOT' as const,
      timeExpression: '2026-05-01T12:00:00Z',
      timeZone: 'UTC',
    };
    expect(previewTriggers(iso, at('2026-01-01T00:00:00Z'), 5)).toEqual([
      at('2026-05-01T12:00:00Z'),
    ]);
    const delay = { ...iso, timeExpression: '5000', anchorMs: 1_000 };
    expect(previewTriggers(delay, 0, 5)).toEqual([6_000]);
  });

  it('previews fixed-rate ticks', () => {
    const s = { timeExpressionType: 'FIXED_RATE' as const, timeExpression: '100', timeZone: 'UTC' };
    expect(previewTriggers(s, 1_000, 3)).toEqual([1_100, 1_200, 1_300]);
  });

  it('never fires API jobs by itself', () => {
    expect(previewTriggers({ timeExpressionType: 'API', timeZone: 'UTC' }, 0, 5)).toEqual([]);
  });

  it.each([
    ['CRON', undefined, /cron pattern/],
    ['CRON', '61 * * * * *', /invalid cron/],
    ['FIXED_RATE', '99', /at least 100/],
    ['FIXED_RATE', '31536000001', /at most 31536000000/],
    ['FIXED_DELAY', 'soon', /milliseconds/],
    ['ONE_SHOT', 'tomorrow', /ISO 8601/],
    ['ONE_SHOT', '99999999999999999999', /at most 31536000000 ms/],
    ['ONE_SHOT', '+275760-09-14T00:00:00.001Z', /ISO 8601/],
    ['API', '* * * * *', /take no timeExpression/],
  ] as const)('rejects %s "%s"', (type, expression, message) => {
    expect(validateTimeExpression(type, expression, 'UTC')).toMatch(message);
  });

  it('names the field of a bad job spec', () => {
    const result = JobSpecInput.safeParse({
      name: 'x',
      processorName: 'p',
      timeExpressionType: 'CRON',
      timeExpression: 'every day',
      timeZone: 'Mars/Olympus',
      maxConcurrentInstanses: 3,
    });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((i) => i.path.join('.') || i.message) ?? [];
    expect(paths).toContain('timeZone');
    expect(result.error?.issues.some((i) => i.code === 'unrecognized_keys')).toBe(true);
  });

  it('takes waits past a 32-bit timer (30 days, 3e9 ms) and names a field past 365 days', () => {
    const base = { name: 'x', processorName: 'p', timeExpressionType: 'API' } as const;
    const long = JobSpecInput.safeParse({
      ...base,
      instanceTimeoutMs: 30 * 24 * 3_600_000,
      instanceRetry: { initialIntervalMs: 3e9, maximumIntervalMs: 3e9 },
      taskRetry: { initialIntervalMs: 3e9, maximumIntervalMs: 3e9 },
    });
    expect(long.success).toBe(true);
    const tooLong = JobSpecInput.safeParse({
      ...base,
      instanceRetry: { maximumIntervalMs: 366 * 24 * 3_600_000 },
      taskRetry: { initialIntervalMs: 1e300 },
    });
    const paths = tooLong.error?.issues.map((i) => i.path.join('.')) ?? [];
    expect(paths).toEqual(
      expect.arrayContaining(['instanceRetry.maximumIntervalMs', 'taskRetry.initialIntervalMs']),
    );
  });

  it('fills defaults users can read back', () => {
    const spec = JobSpecInput.parse({ name: 'x', processorName: 'p', timeExpressionType: 'API' });
    expect(spec).toMatchObject({
      executeType: 'STANDALONE',
      dispatchStrategy: 'HEALTH_FIRST',
      maxConcurrentInstances: 0,
      instanceRetry: {
        maximumAttempts: 1,
        initialIntervalMs: 1_000,
        backoffCoefficient: 2,
        maximumIntervalMs: 60_000,
      },
      enabled: true,
      timeZone: 'UTC',
    });
  });
});
