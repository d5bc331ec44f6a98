import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellQuote } from '../src/commands/env.js';

// `drover env` lines must reach a program started next (as drover-worker is)
// unchanged, through `set -a; eval` and `set -a; .`.

const values = [
  'nats://127.0.0.1:4222',
  'postgres://u@h:5432/db?sslmode=disable',
  'it\'s a $HOME `pwd` "secret" with spaces',
  'a;b|c&d>e<f*g?h[i]~j#k!l',
  '',
];

describe('shellQuote', () => {
  it.each([
    'set -a; eval "$(printf %s "$ENV_LINES")"; set +a',
    'set -a; . <(printf %s "$ENV_LINES"); set +a',
  ])('reaches a child process through `%s` in bash', (load) => {
    const lines = values.map((v, i) => `V${i}=${shellQuote(v)}`).join('\n');
    // A child process (not the shell itself) reads them: only exported variables get there.
    const script = `${load}; for i in 0 1 2 3 4; do bash -c 'printf "%s\\0" "\${!1}"' _ V$i; done`;
    const out = execFileSync('bash', ['-c', script], {
      env: { ...process.env, ENV_LINES: lines },
      encoding: 'utf8',
    });
    expect(out.split('\0').slice(0, values.length)).toEqual(values);
  });

  it('leaves plain URLs and base64url secrets unquoted', () => {
    expect(shellQuote('http://127.0.0.1:7700')).toBe('http://127.0.0.1:7700');
    expect(shellQuote('Ab-_09xyz')).toBe('Ab-_09xyz');
  });
});
