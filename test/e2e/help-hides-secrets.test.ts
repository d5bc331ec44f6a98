import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILT_ENTRY, buildBinaries } from '../harness/built-binaries.js';
import { runToEnd } from '../harness/process.js';

// `--help` output gets pasted into issues and chats: the secrets and the
// credential-bearing URLs the binaries read from the environment must not
// show in it as defaults.

const SERVER = fileURLToPath(new URL('../../packages/server/dist/main.js', import.meta.url));
const secrets = {
  DROVER_APP_SECRET: 'app-secret-in-env',
  DROVER_NATS_URL: 'nats://user:nats-pass-in-url@127.0.0.1:4222',
  DROVER_DATABASE_URL: 'postgres://drover:db-pass-in-url@127.0.0.1/drover',
  DROVER_NATS_PASS: 'nats-pass-in-env',
  DROVER_ADMIN_TOKEN: 'admin-token-in-env',
};

beforeAll(() => buildBinaries(), 60_000);

describe('--help', () => {
  it.each([
    ['drover-worker', BUILT_ENTRY.worker],
    ['drover-server', SERVER],
  ])('of %s names the variables and shows none of their values', async (_, entry) => {
    const help = await runToEnd(process.execPath, [entry, '--help'], {
      env: { ...process.env, ...secrets },
    });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('DROVER_NATS_URL');
    for (const value of ['app-secret-in-env', 'nats-pass-in-url', 'db-pass-in-url']) {
      expect(help.stdout).not.toContain(value);
    }
    expect(help.stdout).not.toMatch(/in-env/);
  });
});
