import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../harness/drover-cli.js';
import { spawnDrover } from '../harness/drover-process.js';
import { stopProcess } from '../harness/process.js';

// A secret on the command line (visible in `ps`) still works but warns once;
// NAME and NAME_FILE together are a usage error naming both.

const WARNING = /on the command line is visible to every user of this host/g;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-secret-flags-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('secret flags', () => {
  it('drover-server takes a --database URL with a password, warning once', async () => {
    const lines: string[] = [];
    const server = await spawnDrover(
      'server',
      ['--http-port', '0', '--database', 'postgres://drover:pw-in-argv@127.0.0.1:1/drover'],
      { DROVER_NATS_URL: 'nats://127.0.0.1:1', DROVER_LOG_LEVEL: 'info' },
      /"msg":"drover-server listening"/,
      [],
      (line) => lines.push(line),
    );
    await stopProcess(server);
    const warnings = lines.join('\n').match(WARNING) ?? [];
    expect(warnings).toHaveLength(1);
    expect(lines.join('\n')).toContain('--database with a password');
    expect(lines.join('\n')).not.toContain('pw-in-argv');
  });

  it('the CLI takes --secret, warning once; NAME with NAME_FILE is a usage error', async () => {
    const withFlag = await runCli([
      '--server',
      'http://127.0.0.1:1',
      '--app',
      'demo',
      '--secret',
      'secret-in-argv-123',
      'job',
      'list',
    ]);
    expect(withFlag.code).toBe(5); // unreachable server: the flag itself was taken
    expect(withFlag.stderr.match(WARNING) ?? []).toHaveLength(1);
    expect(withFlag.stderr).toContain('--secret on the command line');

    const file = join(dir, 'secret');
    await writeFile(file, 'secret-in-file-123\n');
    const both = await runCli(['--server', 'http://127.0.0.1:1', '--app', 'demo', 'job', 'list'], {
      DROVER_APP_SECRET: 'secret-in-env-123',
      DROVER_APP_SECRET_FILE: file,
    });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('set DROVER_APP_SECRET or DROVER_APP_SECRET_FILE, not both');
  });
});
