import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../harness/drover-cli.js';
import { type ReadyProcess, stopProcess } from '../harness/process.js';

// Ctrl-C in a terminal sends SIGINT to the whole foreground process group.
// nats-server and postgres must not get it: `drover up` stops them itself,
// after its workers have handed their work back, and must not take their
// exit for a crash and restart them while it stops.

let dataDir: string;
let up: ReadyProcess | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'drover-up-ctrl-c-'));
});
afterAll(async () => {
  if (up) await stopProcess(up, 'SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

describe('drover up and a terminal’s Ctrl-C', () => {
  it('stops its children itself, in order, without restarting them', async () => {
    up = await spawnCli(
      ['--data-dir', dataDir, 'up', '--port', '0', '--workers', '1'],
      /Ctrl-C stops everything/,
      {},
      { detached: true },
    );
    process.kill(-(up.child.pid as number), 'SIGINT');
    const code = await up.exited;
    expect({ code, signal: up.child.signalCode, tail: code === 0 ? '' : up.tail() }).toEqual({
      code: 0,
      signal: null,
      tail: '',
    });
    expect(up.find(/(exited unexpectedly[^"]*)/)).toBeUndefined();
    expect(up.find(/(restarted)/)).toBeUndefined();
    expect(up.find(/(drover up: stopped)/)).toBe('drover up: stopped');
    await expect(readFile(join(dataDir, 'drover-up.lock'))).rejects.toThrow(/ENOENT/);
  }, 120_000);
});
