import { describe, expect, it } from 'vitest';
import { mapIssues, parseJsonField, summaryLine } from '../src/jobs/form-errors.js';

describe('mapIssues', () => {
  it('puts each issue next to the field its path names', () => {
    const errors = mapIssues([
      { path: 'body.timeExpression', message: 'not a CRON expression' },
      { path: 'body.jobParams.limit', message: 'too deep' },
      { path: 'body.name', message: 'required' },
      { path: 'body.name', message: 'second message' },
    ]);
    expect(errors.fields).toEqual({
      timeExpression: 'not a CRON expression',
      jobParams: 'too deep',
      name: 'required',
    });
    expect(errors.other).toEqual([]);
  });

  it('keeps issues about fields the form does not show, and a bare message, for the summary', () => {
    expect(
      mapIssues([{ path: 'body.instanceRetry.maximumAttempts', message: 'too big' }]).other,
    ).toEqual(['body.instanceRetry.maximumAttempts: too big']);
    expect(mapIssues([], 'job name taken')).toEqual({ fields: {}, other: ['job name taken'] });
  });
});

describe('parseJsonField', () => {
  it('answers the value, nothing for an empty field, or an error', () => {
    expect(parseJsonField('{"a": [1]}')).toEqual({ ok: true, value: { a: [1] } });
    expect(parseJsonField('  ')).toEqual({ ok: true, value: undefined });
    expect(parseJsonField('{a:1}').ok).toBe(false);
  });
});

describe('summaryLine', () => {
  it('names the field by its label before the message', () => {
    expect(summaryLine('processorName', 'Too small: expected string to have >=1 characters')).toBe(
      'Processor: Too small: expected string to have >=1 characters',
    );
    expect(summaryLine('timeExpression', 'not a CRON expression')).toBe(
      'Schedule: not a CRON expression',
    );
  });
});
