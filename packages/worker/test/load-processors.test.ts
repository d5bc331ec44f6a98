import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { loadProcessors, ProcessorModuleError, startWorker } from '../src/index.js';

// Processors from several user modules: every processor of every module, and
// a clear error naming the file (and the processor) for whatever cannot be used.

const FILES = {
  'a.mjs': `export const one = { kind: 'basic', name: 'one', process: () => '1' };
export const many = [{ kind: 'map', name: 'two', process: () => '2' }];`,
  // What a CommonJS module.exports = { … } looks like to import(): a default object.
  'b.cjs': `const three = { kind: 'mapReduce', name: 'three', process: () => '3', reduce: () => '3' };
module.exports = { three };`,
  // Re-exports a's processor (the same object) and adds its own.
  'c.mjs': `export { one } from './a.mjs';
export default [{ kind: 'broadcast', name: 'four', process: () => '4' }];`,
  'clash.mjs': `export const other = { kind: 'basic', name: 'one', process: () => 'other' };`,
  'twice.mjs': `export const x = { kind: 'basic', name: 'x', process: () => 'x' };
export const y = { kind: 'basic', name: 'x', process: () => 'y' };`,
  'nothing.mjs': 'export const answer = 42;',
  'broken.mjs': `export const x = {`,
  'main-only.mjs': `import { isMainThread } from 'node:worker_threads';
if (!isMainThread) throw new Error('not in processor threads');
export const y = { kind: 'basic', name: 'y', process: () => 'y' };`,
};

let dir: string;
const file = (name: keyof typeof FILES) => join(dir, name);
const failure = (modules: string[]) =>
  loadProcessors(modules).then(
    () => expect.unreachable('loaded'),
    (err: Error) => err,
  );

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-load-'));
  for (const [name, text] of Object.entries(FILES)) await writeFile(join(dir, name), text);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('loadProcessors', () => {
  it('loads every processor of several modules: named, arrays, default objects, re-exports once', async () => {
    const loaded = await loadProcessors([file('a.mjs'), file('b.cjs'), file('c.mjs')]);
    expect(loaded.map((p) => `${p.name}:${p.kind}`)).toEqual([
      'one:basic',
      'two:map',
      'three:mapReduce',
      'four:broadcast',
    ]);
  });

  it('refuses two processors of the same name, naming it and both files', async () => {
    const err = await failure([file('a.mjs'), file('clash.mjs')]);
    expect(err).toBeInstanceOf(ProcessorModuleError);
    expect(err.message).toBe(
      `processor "one" is exported by both ${file('a.mjs')} and ${file('clash.mjs')}`,
    );
    expect((await failure([file('twice.mjs')])).message).toBe(
      `processor "x" is exported twice by ${file('twice.mjs')}`,
    );
  });

  it('names the file that exports no processor, fails to import, or is missing', async () => {
    const none = await failure([file('a.mjs'), file('nothing.mjs')]);
    expect(none).toBeInstanceOf(ProcessorModuleError);
    expect(none.message).toMatch(`${file('nothing.mjs')} exports no processors`);
    const broken = await failure([file('broken.mjs')]);
    expect(broken).toBeInstanceOf(ProcessorModuleError);
    expect(broken.message).toMatch(`cannot load processors from ${file('broken.mjs')}: `);
    const missing = await failure([join(dir, 'missing.ts')]);
    expect(missing.message).toMatch(`cannot load processors from ${join(dir, 'missing.ts')}: `);
  });
});

describe('startWorker with processor threads', () => {
  // Threads inherit this process's flags; the test runner's --expose-gc is not one a thread takes.
  process.execArgv = process.execArgv.filter((flag) => flag !== '--expose-gc');

  it('rejects with the cause when the threads cannot load the modules, instead of respawning them', async () => {
    const start = startWorker({
      natsUrl: natsUrl(),
      insecureNats: true, // the suite's shared NATS has no authentication
      app: 'threads-fail',
      processors: await loadProcessors(file('main-only.mjs')),
      processorsModule: file('main-only.mjs'),
      threads: 2,
      log: testLogger('worker'),
    });
    await expect(start).rejects.toThrow(
      `a processor thread could not start: cannot load processors from ${file('main-only.mjs')}: Error: not in processor threads`,
    );
    await expect(start).rejects.toBeInstanceOf(ProcessorModuleError);
  });
});
