import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envSecret, SecretSettingError } from '../src/env-secret.js';

// Secrets from NAME or NAME_FILE: the file's contents trimmed, never both,
// and an error that names the variable and the path, never the contents.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-env-secret-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('envSecret', () => {
  it('reads NAME, or the trimmed contents of the file NAME_FILE names', async () => {
    const file = join(dir, 'token');
    await writeFile(file, '  s3cret-from-file\n');
    expect(envSecret('X_TOKEN', { X_TOKEN: 'direct' })).toBe('direct');
    expect(envSecret('X_TOKEN', { X_TOKEN_FILE: file })).toBe('s3cret-from-file');
    expect(envSecret('X_TOKEN', {})).toBeUndefined();
  });

  it('refuses both, an unreadable file and an empty one, naming what to fix', async () => {
    const file = join(dir, 'both');
    await writeFile(file, 'never-shown-contents');
    expect(() => envSecret('X_TOKEN', { X_TOKEN: 'a', X_TOKEN_FILE: file })).toThrow(
      'set X_TOKEN or X_TOKEN_FILE, not both',
    );
    const missing = join(dir, 'missing');
    expect(() => envSecret('X_TOKEN', { X_TOKEN_FILE: missing })).toThrow(
      `X_TOKEN_FILE: cannot read ${missing} (ENOENT)`,
    );
    const empty = join(dir, 'empty');
    await writeFile(empty, '\n');
    expect(() => envSecret('X_TOKEN', { X_TOKEN_FILE: empty })).toThrow(SecretSettingError);
  });
});
