import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl, uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import { runToEnd } from '../../../test/harness/process.js';
import type { DroverServer } from '../../server/src/index.js';
import {
  createTestApp,
  startTestServer,
  type TestApp,
} from '../../server/test/support/server-fixture.js';
import { basicProcessor, type DroverLogger, startWorker } from '../src/index.js';

// Embedding a worker needs no pino: any object with pino's methods will do,
// and with none the worker makes its own (pino at info, JSON on stderr).

const db = useDatabase();
let server: DroverServer;
let app: TestApp;

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
});
afterAll(() => server.stop());

interface Line {
  level: string;
  message: string | undefined;
  fields: Record<string, unknown>;
}

/** A logger of the user's own (not pino): keeps every line with its child bindings. */
function recordingLogger(lines: Line[], bindings: Record<string, unknown> = {}): DroverLogger {
  const at =
    (level: string) =>
    (first: object | string, message?: string): void => {
      if (typeof first === 'string') lines.push({ level, message: first, fields: bindings });
      else lines.push({ level, message, fields: { ...bindings, ...first } });
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => recordingLogger(lines, { ...bindings, ...more }),
  };
}

describe('startWorker logger', () => {
  it("logs to the embedding service's own logger, with the worker's bindings", async () => {
    const lines: Line[] = [];
    const worker = await startWorker({
      natsUrl: natsUrl(),
      insecureNats: true, // the suite's shared NATS has no authentication
      app: app.name,
      workerId: 'embedded-own-log',
      processors: [basicProcessor({ name: 'noop', process: () => 'ok' })],
      logger: recordingLogger(lines),
    });
    await worker.stop();
    const messages = lines.map((l) => l.message);
    expect(messages).toEqual(expect.arrayContaining(['worker started', 'worker stopped']));
    expect(lines.find((l) => l.message === 'worker started')).toMatchObject({
      level: 'info',
      fields: { workerId: 'embedded-own-log', app: app.name, processors: ['noop'] },
    });
  });

  it('without a logger, logs JSON at info to stderr (pino) and nothing to stdout', async () => {
    const script = fileURLToPath(new URL('fixtures/embed-without-logger.ts', import.meta.url));
    const result = await runToEnd(
      process.execPath,
      ['--import', 'tsx', '--conditions=drover-source', script, natsUrl(), app.name],
      { timeoutMs: 60_000 },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    const logged = result.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(logged).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          level: 30,
          msg: 'worker started',
          workerId: 'embedded-default-log',
        }),
        expect.objectContaining({ level: 30, msg: 'worker stopped' }),
      ]),
    );
    // At info: no debug lines.
    expect(logged.filter((l) => l.level < 30)).toEqual([]);
  });
});
