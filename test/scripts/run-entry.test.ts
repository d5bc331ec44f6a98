import { cp, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runToEnd } from '../harness/process.js';

// scripts/lib/run-entry.sh picks the built entry while every package's build
// is current, else the sources through tsx. Tried in a checkout of its own:
// a built package and the console (bundled by Vite, never a tsbuildinfo).

const REPO = new URL('../../', import.meta.url).pathname;
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function checkout(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'drover-run-entry-'));
  dirs.push(root);
  await mkdir(join(root, 'scripts/lib'), { recursive: true });
  await cp(join(REPO, 'scripts/lib/run-entry.sh'), join(root, 'scripts/lib/run-entry.sh'));
  await mkdir(join(root, 'node_modules'));
  await symlink(join(REPO, 'node_modules/tsx'), join(root, 'node_modules/tsx'));
  const cli = join(root, 'packages/cli');
  await mkdir(join(cli, 'src'), { recursive: true });
  await mkdir(join(cli, 'dist'));
  await writeFile(join(cli, 'src/main.ts'), "console.log('sources');\n");
  await writeFile(join(cli, 'dist/main.js'), "console.log('built');\n");
  await writeFile(join(cli, 'tsconfig.tsbuildinfo'), '{}');
  // The build after the sources, as `pnpm build` leaves them (file times are coarse: set, not raced).
  const written = new Date(Date.now() - 120_000);
  const built = new Date(Date.now() - 60_000);
  await utimes(join(cli, 'src/main.ts'), written, written);
  await utimes(join(cli, 'src'), written, written);
  await utimes(join(cli, 'tsconfig.tsbuildinfo'), built, built);
  const console_ = join(root, 'packages/console');
  await mkdir(join(console_, 'src'), { recursive: true });
  await mkdir(join(console_, 'dist'));
  await writeFile(join(console_, 'src/main.tsx'), 'export {};\n');
  return root;
}

const runEntry = (root: string) =>
  runToEnd('bash', ['-c', `source "${root}/scripts/lib/run-entry.sh" && run_entry cli main`], {
    timeoutMs: 30_000,
  });

describe('scripts/lib/run-entry.sh', () => {
  it('runs the built entry when every package but the Vite-bundled console has a current build', async () => {
    const root = await checkout();
    const ran = await runEntry(root);
    expect(ran.stdout.trim()).toBe('built');
  });

  it('runs the sources once a source is newer than its build', async () => {
    const root = await checkout();
    const edited = new Date();
    await utimes(join(root, 'packages/cli/src/main.ts'), edited, edited);
    const ran = await runEntry(root);
    expect(ran.stdout.trim()).toBe('sources');
  });
});
