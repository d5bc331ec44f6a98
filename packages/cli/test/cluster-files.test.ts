import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  newCredentials,
  readClusterInfo,
  writeClusterInfo,
  writeCredentials,
} from '../src/up/cluster-files.js';

// The files `drover up` keeps in its data dir: owner-only (an --nats URL may
// carry a password), and replaced whole (temp file renamed over the old one),
// never rewritten in place where a crash would leave half a file.

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const info = {
  serverUrl: 'http://127.0.0.1:7700',
  natsUrl: 'nats://u:p@127.0.0.1:4222',
  app: 'demo',
};

describe('data dir files', () => {
  it('writes cluster.json readable by the owner only, replacing an older one whole', async () => {
    const file = join(dir, 'cluster.json');
    await writeFile(file, '{"old":true}', { mode: 0o644 });
    const before = await stat(file);
    await writeClusterInfo(dir, info);
    const after = await stat(file);
    expect(after.mode & 0o777).toBe(0o600);
    expect(after.ino).not.toBe(before.ino); // a new file renamed into place
    expect(await readClusterInfo(dir)).toEqual(info);
    expect(await readdir(dir)).toEqual(['cluster.json']); // no temp file left
  });

  it('writes credentials.json readable by the owner only, whole', async () => {
    const credentials = newCredentials('demo');
    await writeCredentials(dir, credentials);
    const file = join(dir, 'credentials.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(credentials);
    expect(await readdir(dir)).toEqual(['credentials.json']);
  });
});
