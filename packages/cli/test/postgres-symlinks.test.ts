import { chmod, mkdir, mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToEnd } from '../../../test/harness/process.js';
import { NPM_PACKAGE, restoreSymlinks } from '../src/up/postgres-binaries.js';

// The npm Postgres package lists the library symlinks its postinstall makes;
// drover up makes missing ones itself. Where it cannot (a read-only
// node_modules), it must say which link and why, not "not installed".

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MODULE = fileURLToPath(new URL('../src/up/postgres-binaries.ts', import.meta.url));
const NOBODY = 65534;
let base: string;

/** A package root listing one link, libx.so → libx.so.1, with its lib folder's mode. */
async function packageRoot(name: string, libMode: number): Promise<string> {
  const root = join(base, name);
  await mkdir(join(root, 'native', 'lib'), { recursive: true });
  await writeFile(join(root, 'native', 'lib', 'libx.so.1'), '');
  await writeFile(
    join(root, 'native', 'pg-symlinks.json'),
    JSON.stringify([{ source: 'native/lib/libx.so.1', target: 'native/lib/libx.so' }]),
  );
  await chmod(join(root, 'native', 'lib'), libMode);
  return root;
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'drover-pg-links-'));
  await chmod(base, 0o755);
});
afterAll(() => rm(base, { recursive: true, force: true }));

describe('restoreSymlinks', () => {
  it('makes a missing link where it can', async () => {
    const root = await packageRoot('writable', 0o755);
    expect(await restoreSymlinks(root)).toBeUndefined();
    expect(await readlink(join(root, 'native', 'lib', 'libx.so'))).toBe('libx.so.1');
  });

  it('names the link and "permission denied" where it cannot, as a user who may not write there', async () => {
    const root = await packageRoot('read-only', 0o555);
    // Root writes anywhere: the call runs as nobody (or as this user, already not root).
    const user = process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {};
    const script = `import(${JSON.stringify(MODULE)}).then(async (m) => console.log(JSON.stringify(await m.restoreSymlinks(${JSON.stringify(root)}) ?? null)))`;
    const result = await runToEnd(
      process.execPath,
      ['--import', 'tsx', '--conditions=drover-source', '--input-type=module', '-e', script],
      { cwd: ROOT, env: { ...process.env, HOME: base }, timeoutMs: 30_000, ...user },
    );
    expect(result.code, result.stderr).toBe(0);
    const said = JSON.parse(result.stdout) as string | null;
    expect(said).toContain(`${join(root, 'native', 'lib', 'libx.so')} (permission denied)`);
    expect(said).toContain(`the npm package ${NPM_PACKAGE} is installed`);
    expect(said).not.toContain('not installed');
  });
});
