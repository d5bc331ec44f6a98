import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publicKeyOfSeed } from '@drover/transport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareNatsFiles } from '../src/up/nats-auth-files.js';
import { externalNatsSeed } from '../src/up/up-nats.js';

// `drover up`'s NATS credentials: seeds made once and kept (owner only), a
// main config that names the pid file and includes the server-managed
// authorization, which at first admits the server only.

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-nats-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('drover up NATS files', () => {
  it('makes the seeds once (0600 in a 0700 folder) and keeps them across starts', async () => {
    const first = await prepareNatsFiles(dir);
    expect((await stat(first.dir)).mode & 0o777).toBe(0o700);
    for (const file of [first.serverSeedFile, first.monitorSeedFile, first.authFile])
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(first.serverSeedFile, 'utf8')).startsWith('SU')).toBe(true);
    const second = await prepareNatsFiles(dir);
    expect(second.serverSeed).toEqual(first.serverSeed);
    expect(second.monitorPublicKey).toBe(first.monitorPublicKey);
    expect(second.monitorPublicKey).not.toBe(publicKeyOfSeed(first.serverSeed));
    expect((await readdir(first.dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('writes a main config with the pid file and the include, admitting only the server at first', async () => {
    const files = await prepareNatsFiles(dir);
    const main = await readFile(files.configFile, 'utf8');
    expect(main).toContain(`pid_file: ${JSON.stringify(files.pidFile)}`);
    expect(main).toMatch(/^include "auth\.conf"$/m);
    const auth = await readFile(files.authFile, 'utf8');
    expect([...auth.matchAll(/nkey: "(U[A-Z2-7]+)"/g)].map((m) => m[1])).toEqual([
      publicKeyOfSeed(files.serverSeed),
    ]);

    // The next start keeps what the server wrote (workers reconnecting to a restarted nats get in).
    await writeFile(files.authFile, 'authorization { users = [] } # written by the server');
    await prepareNatsFiles(dir);
    expect(await readFile(files.authFile, 'utf8')).toContain('written by the server');
  });
});

describe('drover up --nats', () => {
  it('refuses credentials in the URL without repeating them', async () => {
    const refused = externalNatsSeed({ natsUrl: 'nats://drover:hunter2@127.0.0.1:4222' });
    await expect(refused).rejects.toThrow(/URL with credentials .* is refused/);
    await expect(refused).rejects.not.toThrow(/hunter2/);
  });

  it('takes --nats-nkey-file and --insecure-nats only with --nats', async () => {
    await expect(externalNatsSeed({ insecureNats: true })).rejects.toThrow(/go with --nats/);
    await expect(externalNatsSeed({ natsUrl: 'nats://127.0.0.1:4222' })).resolves.toBeUndefined();
  });
});
