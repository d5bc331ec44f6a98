import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/nats-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { NatsAuthWriter } from '../src/nats-auth/nats-auth-writer.js';
import { WorkerKeys } from '../src/nats-auth/worker-keys.js';
import { addWorkerKey, registerKey } from '../src/store/nats-keys.js';

// The managed authorization file: written from the database, one write in
// flight, changes made meanwhile coalesced into one more write.

const db = useDatabase();
let pool: pg.Pool;
let dir: string;

/** A reload the test lets finish when it wants, counting calls and overlap. */
function heldReload() {
  const state = { calls: 0, running: 0, maxRunning: 0, release: () => {} };
  let gate = Promise.resolve();
  const hold = () => {
    gate = new Promise<void>((resolve) => {
      state.release = resolve;
    });
  };
  const reload = async () => {
    state.calls++;
    state.running++;
    state.maxRunning = Math.max(state.maxRunning, state.running);
    await gate;
    state.running--;
  };
  return { state, hold, reload };
}

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url });
  dir = await mkdtemp(join(tmpdir(), 'drover-nats-auth-'));
  await registerKey(pool, nkeys.createUser().getPublicKey(), 'server');
});
afterAll(async () => {
  await pool.end();
  await rm(dir, { recursive: true, force: true });
});

describe('NatsAuthWriter', () => {
  it('coalesces changes made during a write into one more write', async () => {
    const file = join(dir, 'coalesce.conf');
    const { state, hold, reload } = heldReload();
    const writer = new NatsAuthWriter(pool, { file, reload }, testLogger('writer'));
    hold();
    const first = writer.sync();
    // The first write is held in its reload: the app and its key come after it read the keys.
    await expect.poll(() => state.calls).toBe(1);
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO apps (name, secret_hash) VALUES ('coalesced', 'x') RETURNING id`,
    );
    const key = await addWorkerKey(pool, rows[0]?.id as string);
    const waiting = Array.from({ length: 5 }, () => writer.sync());
    expect(new Set(waiting).size).toBe(1);
    expect(await readFile(file, 'utf8')).not.toContain(key.publicKey);

    state.release();
    await first;
    await Promise.all(waiting);
    expect(state.calls).toBe(2);
    expect(state.maxRunning).toBe(1);
    const text = await readFile(file, 'utf8');
    expect(text).toContain(key.publicKey);
    expect(text).toContain('# worker of coalesced');
    expect(text).not.toContain(key.seed);
    // Renamed into place: no temporary file left beside it.
    expect((await readdir(dir)).filter((f) => f.startsWith('coalesce'))).toEqual(['coalesce.conf']);
  });

  it('rejects the callers of a failed reload and writes again on the next change', async () => {
    const file = join(dir, 'failing.conf');
    let fail = true;
    const writer = new NatsAuthWriter(
      pool,
      {
        file,
        reload: async () => {
          if (fail) throw new Error('nats-server is not running');
        },
      },
      testLogger('writer'),
    );
    await expect(writer.sync()).rejects.toThrow(/not running/);
    fail = false;
    await writer.sync();
    expect(await readFile(file, 'utf8')).toMatch(/authorization \{/);
  });

  it('answers a new worker key even when the reload fails (its seed is shown only once)', async () => {
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO apps (name, secret_hash) VALUES ('reload_broken', 'x') RETURNING id`,
    );
    const writer = new NatsAuthWriter(
      pool,
      {
        file: join(dir, 'broken.conf'),
        reload: () => Promise.reject(new Error('no nats-server pid')),
      },
      testLogger('writer'),
    );
    const keys = new WorkerKeys(pool, 'nats://127.0.0.1:1', writer, testLogger('keys'));
    const key = await keys.add(rows[0]?.id as string);
    expect(key.seed).toMatch(/^SU/);
    expect((await keys.list(rows[0]?.id as string)).map((k) => k.publicKey)).toEqual([
      key.publicKey,
    ]);
  });
});
