import { describe, expect, it } from 'vitest';
import { ApiClient, readyzUntil } from '../../packages/server/test/support/api-client.js';
import { spawnDrover } from '../harness/drover-process.js';
import { useDatabase } from '../harness/fixtures.js';
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
});
