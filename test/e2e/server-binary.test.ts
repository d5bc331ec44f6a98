import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DROVER_VERSION } from '@drover/protocol';
import { connectNats } from '@drover/transport';
import { nkeys } from '@nats-io/nats-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { natsAuthConfig } from '../../packages/server/src/index.js';
import { ApiClient, readyzUntil } from '../../packages/server/test/support/api-client.js';
import { TEST_ADMIN_TOKEN } from '../../packages/server/test/support/server-fixture.js';
import { buildBinaries } from '../harness/built-binaries.js';
import { runBuiltDrover, spawnDrover } from '../harness/drover-process.js';
import { natsUrl, uniqueName, useDatabase } from '../harness/fixtures.js';
import { testLogger } from '../harness/logger.js';
import { type NatsServer, startNatsServer } from '../harness/nats-server.js';
import { freePort } from '../harness/postgres.js';
import { stopProcess } from '../harness/process.js';

const db = useDatabase();

describe('drover-server binary', () => {
  it('starts before NATS exists, becomes ready when it appears, and drains on SIGTERM', async () => {
    const natsPort = await freePort();
    const server = await spawnDrover(
      'server',
      ['--http-port', '0', '--server-id', 'e2e-server'],
      {
        // Credentials in the URL (this nats-server ignores them) must not reach a log line.
        DROVER_NATS_URL: `nats://drover:hunter2@127.0.0.1:${natsPort}`,
        DROVER_INSECURE_NATS: '1',
        DROVER_DATABASE_URL: db.url,
        DROVER_LOG_LEVEL: 'info',
      },
      /"msg":"drover-server listening"/,
    );
    let nats: NatsServer | undefined;
    try {
      const url = server.find(/"http":"(http:\/\/[^"]+)"/) as string;
      const api = new ApiClient(url);
      const waiting = await api.get('/readyz');
      expect(waiting.body).toMatchObject({ ready: false, nats: false });
      // Still alive while NATS is away: it retries instead of crash-looping,
      // and the retry names what it retries, without the password.
      expect(server.child.exitCode).toBeNull();
      const retry = await server.waitFor(/not reachable yet, retrying/);
      expect(retry).toContain(
        `"msg":"NATS at nats://127.0.0.1:${natsPort} not reachable yet, retrying connect"`,
      );
      expect(server.tail()).not.toContain('hunter2');

      nats = await startNatsServer({ port: natsPort });
      await readyzUntil(api, true);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(server.tail()).toMatch(/"msg":"server stopped"/);
    } finally {
      // Also when an assertion failed: no server left running.
      await stopProcess(server, 'SIGKILL');
      await nats?.stop();
    }
  });

  it('exits with a message naming the missing setting', async () => {
    const run = spawnDrover(
      'server',
      [],
      { DROVER_DATABASE_URL: '', DROVER_NATS_URL: '' },
      /never/,
    );
    await expect(run).rejects.toThrow(/databaseUrl/);
  });

  it('refuses a NATS without authentication (exit 4) unless --insecure-nats', async () => {
    const server = await spawnDrover(
      'server',
      ['--http-port', '0'],
      { DROVER_NATS_URL: natsUrl(), DROVER_DATABASE_URL: db.url, DROVER_LOG_LEVEL: 'info' },
      /"msg":"drover-server listening"/,
    );
    try {
      expect(await server.exited).toBe(4);
      expect(server.tail()).toMatch(/does not require authentication/);
      expect(server.tail()).toMatch(/--insecure-nats \/ DROVER_INSECURE_NATS=1/);
      expect(server.tail()).toMatch(/docs\/security\.md/);
    } finally {
      await stopProcess(server, 'SIGKILL');
    }
  });

  it('lets itself into NATS with --nats-nkey-file, --nats-auth-file and --nats-pid-file', async () => {
    const serverKey = nkeys.createUser();
    const monitorKey = nkeys.createUser().getPublicKey();
    // NATS starts knowing someone else only: the server must write its own key and reload.
    const nats = await startNatsServer({
      authorization: natsAuthConfig([
        { publicKey: nkeys.createUser().getPublicKey(), role: 'server' },
      ]),
    });
    const dir = await mkdtemp(join(tmpdir(), 'drover-seed-'));
    const seedFile = join(dir, 'server.nk');
    const seedText = new TextDecoder().decode(serverKey.getSeed());
    await writeFile(seedFile, `${seedText}\n`);
    await chmod(seedFile, 0o600);
    const server = await spawnDrover(
      'server',
      [
        '--http-port',
        '0',
        '--nats-nkey-file',
        seedFile,
        '--nats-auth-file',
        nats.authFile as string,
        '--nats-pid-file',
        nats.pidFile,
      ],
      {
        DROVER_NATS_URL: nats.url,
        DROVER_NATS_MONITOR_KEYS: monitorKey,
        DROVER_DATABASE_URL: db.url,
        DROVER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        DROVER_LOG_LEVEL: 'info',
      },
      /"msg":"drover-server listening"/,
    );
    try {
      const api = new ApiClient(
        server.find(/"http":"(http:\/\/[^"]+)"/) as string,
        TEST_ADMIN_TOKEN,
      );
      await readyzUntil(api, true);
      const written = await readFile(nats.authFile as string, 'utf8');
      expect(written).toContain(serverKey.getPublicKey());
      expect(written).toContain(monitorKey);

      const name = uniqueName('bin');
      const created = await api.post('/api/v1/apps', { name, secret: 'a-secret-of-some-length' });
      expect(created.status).toBe(201);
      const worker = await connectNats({
        servers: nats.url,
        name: 'worker',
        log: testLogger('worker'),
        nkeySeed: new TextEncoder().encode(created.body.workerKey.seed),
        inboxPrefix: `_INBOX_${name}`,
        failOnAuthError: true,
      });
      await worker.close();
      expect(server.tail()).not.toContain(seedText);
      expect(server.tail()).not.toContain(created.body.workerKey.seed);
    } finally {
      await stopProcess(server, 'SIGKILL');
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('drover-server settings', () => {
  beforeAll(() => buildBinaries(['server']), 120_000);
  // Each numeric or enum setting, as a flag and as its variable: exit 2, one line naming it.
  const refused: [string, string[], NodeJS.ProcessEnv, string][] = [
    [
      'DROVER_HTTP_PORT',
      [],
      { DROVER_HTTP_PORT: 'abc' },
      "value 'abc' from env 'DROVER_HTTP_PORT'",
    ],
    ['--http-port', ['--http-port', '70000'], {}, "'--http-port <port>' argument '70000'"],
    ['--log-level', ['--log-level', 'loud'], {}, "'--log-level <level>' argument 'loud'"],
    ['DROVER_LOG_LEVEL', [], { DROVER_LOG_LEVEL: 'loud' }, "'DROVER_LOG_LEVEL'"],
    ['DROVER_INSECURE_NATS', [], { DROVER_INSECURE_NATS: 'maybe' }, 'DROVER_INSECURE_NATS'],
    ['DROVER_DATABASE_URL', [], { DROVER_DATABASE_URL: '' }, '--database / DROVER_DATABASE_URL'],
  ];
  it('exits 2 with one line naming a bad flag or variable', { timeout: 90_000 }, async () => {
    const results = await Promise.all(
      refused.map(([, args, env]) =>
        runBuiltDrover('server', args, {
          DROVER_DATABASE_URL: 'postgres://x@127.0.0.1:1/x',
          ...env,
        }),
      ),
    );
    results.forEach((r, i) => {
      const [label, , , named] = refused[i] as (typeof refused)[number];
      expect({ label, code: r.code }).toEqual({ label, code: 2 });
      expect(r.stderr.trim().split('\n'), label).toHaveLength(1);
      expect(r.stderr, label).toContain(named);
      expect(r.stderr, label).toMatch(/^drover-server: /);
    });
  });

  it('prints its version with --version', async () => {
    const r = await runBuiltDrover('server', ['--version']);
    expect(r).toMatchObject({ code: 0, stdout: `${DROVER_VERSION}\n` });
  });
});
