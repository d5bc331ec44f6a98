import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { basicProcessor } from '../src/sdk/processor.js';
import { parseRunParams } from '../src/tracker/run-params.js';

const processor = (params: z.ZodType) =>
  basicProcessor({ name: 'p', params, process: () => 'done' });
const none = { instanceParams: null, jobParams: null };

describe('a run with no params', () => {
  it('gets the defaults of an object schema', () => {
    const withDefaults = processor(z.object({ name: z.string().default('world') }));
    expect(parseRunParams(withDefaults, none)).toEqual({ ok: true, params: { name: 'world' } });
  });

  it('is null to a schema that takes null, undefined to one that takes undefined', () => {
    expect(parseRunParams(processor(z.object({}).nullable()), none)).toEqual({
      ok: true,
      params: null,
    });
    expect(parseRunParams(processor(z.string().optional()), none)).toEqual({
      ok: true,
      params: undefined,
    });
  });

  it('fails against a schema that needs params, saying none were given', () => {
    const parsed = parseRunParams(processor(z.object({ n: z.number() })), none);
    expect(parsed.ok).toBe(false);
    expect(parsed).toMatchObject({
      result: expect.stringMatching(
        /^invalid params for processor "p": \(params\): .*\(the run and its job have no params\)$/,
      ),
    });
  });

  it('takes the job params when the run has none, with no defaults read in', () => {
    const withDefaults = processor(z.object({ name: z.string().default('world') }));
    expect(
      parseRunParams(withDefaults, { instanceParams: null, jobParams: { name: 'Ada' } }),
    ).toEqual({ ok: true, params: { name: 'Ada' } });
    expect(parseRunParams(withDefaults, { instanceParams: null, jobParams: 7 })).toMatchObject({
      ok: false,
      result: expect.not.stringContaining('no params'),
    });
  });
});
