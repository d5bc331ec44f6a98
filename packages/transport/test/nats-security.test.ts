import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/nats-core';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { natsUrl } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import {
  connectNats,
  NatsNotSecuredError,
  NkeySeedFileError,
  publicKeyOfSeed,
  readNkeySeedFile,
} from '../src/index.js';

/** A logger whose lines the test can read. */
function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

describe('a NATS without authentication', () => {
  it('is refused, naming the flag and the doc', async () => {
    const attempt = connectNats({
      servers: natsUrl(),
      name: 'plain',
      log: testLogger('plain'),
    });
    await expect(attempt).rejects.toBeInstanceOf(NatsNotSecuredError);
    await expect(attempt).rejects.toThrow(/--insecure-nats.*DROVER_INSECURE_NATS=1/);
    await expect(attempt).rejects.toThrow(/docs\/security\.md/);
  });

  it('is accepted with insecureNats, with one warning', async () => {
    const { log, lines } = capturingLogger();
    const nc = await connectNats({
      servers: natsUrl(),
      name: 'insecure',
      log,
      insecureNats: true,
    });
    try {
      expect(nc.isClosed()).toBe(false);
      expect(lines.filter((l) => /does not require authentication/.test(l.msg))).toHaveLength(1);
    } finally {
      await nc.close();
    }
  });

  it('uses the inbox prefix it is given', async () => {
    const nc = await connectNats({
      servers: natsUrl(),
      name: 'prefixed',
      log: testLogger('prefixed'),
      insecureNats: true,
      inboxPrefix: '_INBOX_someapp',
    });
    try {
      const sub = nc.subscribe('prefix.echo', {
        max: 1,
        callback: (_err, m) => {
          m.respond(m.reply ?? '');
        },
      });
      const reply = await nc.request('prefix.echo', '', { timeout: 2_000 });
      expect(reply.string()).toMatch(/^_INBOX_someapp\./);
      sub.unsubscribe();
    } finally {
      await nc.close();
    }
  });
});

describe('readNkeySeedFile', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  async function seedFile(text: string, mode = 0o600): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'drover-seed-'));
    dirs.push(dir);
    const path = join(dir, 'seed.nk');
    await writeFile(path, text);
    await chmod(path, mode);
    return path;
  }

  it('reads a user seed, ignoring surrounding whitespace', async () => {
    const user = nkeys.createUser();
    const path = await seedFile(`\n  ${new TextDecoder().decode(user.getSeed())}  \n`);
    const { log, lines } = capturingLogger();
    const seed = await readNkeySeedFile(path, log);
    expect(publicKeyOfSeed(seed)).toBe(user.getPublicKey());
    expect(lines).toHaveLength(0);
  });

  it('warns (without the seed) when group or others can read the file', async () => {
    const seedText = new TextDecoder().decode(nkeys.createUser().getSeed());
    const path = await seedFile(seedText, 0o644);
    const { log, lines } = capturingLogger();
    await readNkeySeedFile(path, log);
    expect(lines.map((l) => l.msg)).toEqual([expect.stringMatching(/readable by group or others/)]);
    expect(JSON.stringify(lines)).not.toContain(seedText);
  });

  it('refuses what is not a user seed, naming the file', async () => {
    const account = new TextDecoder().decode(nkeys.createAccount().getSeed());
    const userSeed = new TextDecoder().decode(nkeys.createUser().getSeed());
    const corrupted = `${userSeed.slice(0, -3)}AAA`;
    for (const [text, reason] of [
      ['', /empty/],
      [account, /does not hold a NATS user seed/],
      [nkeys.createUser().getPublicKey(), /does not hold a NATS user seed/],
      [corrupted, /malformed/],
    ] as const) {
      const path = await seedFile(text);
      const read = readNkeySeedFile(path);
      await expect(read).rejects.toBeInstanceOf(NkeySeedFileError);
      await expect(read).rejects.toThrow(new RegExp(`${path}.*${reason.source}`));
      if (text !== '') await expect(read).rejects.not.toThrow(text);
    }
  });

  it('names a missing file', async () => {
    await expect(readNkeySeedFile('/nonexistent/seed.nk')).rejects.toThrow(
      /NATS nkey seed file \/nonexistent\/seed\.nk: cannot read it/,
    );
  });
});
