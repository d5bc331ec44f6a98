import { describe, expect, it } from 'vitest';
import { EnvFlagError, envFlag } from '../src/env-flag.js';

describe('envFlag', () => {
  it('reads yes and no in their usual spellings, unset as no', () => {
    for (const yes of ['1', 'true', 'YES']) expect(envFlag('F', { F: yes })).toBe(true);
    for (const no of ['0', 'false', 'no', '']) expect(envFlag('F', { F: no })).toBe(false);
    expect(envFlag('F', {})).toBe(false);
  });

  it('refuses anything else, naming the variable and its value', () => {
    expect(() => envFlag('DROVER_INSECURE_NATS', { DROVER_INSECURE_NATS: 'ture' })).toThrow(
      new EnvFlagError('DROVER_INSECURE_NATS must be 1 or 0, got "ture"'),
    );
  });
});
