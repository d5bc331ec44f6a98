import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Each binary's built entry, run as users run it: plain node, no tsx hook, no source conditions. */
export const BUILT_ENTRY = {
  cli: `${ROOT}packages/cli/dist/main.js`,
  worker: `${ROOT}packages/worker/dist/main.js`,
  server: `${ROOT}packages/server/dist/main.js`,
} as const;

const built = new Map<string, Promise<void>>();

/**
 * Builds the binaries (default the CLI and the worker; `tsc -b`, about 2 s
 * when up to date), so a test of the built binaries never runs a stale dist.
 * Once per test file and set of binaries.
 */
export function buildBinaries(
  binaries: readonly (keyof typeof BUILT_ENTRY)[] = ['cli', 'worker'],
): Promise<void> {
  const key = binaries.join(' ');
  let build = built.get(key);
  if (!build) {
    build = promisify(execFile)(
      process.execPath,
      [`${ROOT}node_modules/typescript/bin/tsc`, '-b', ...binaries.map((b) => `packages/${b}`)],
      { cwd: ROOT },
    ).then(() => undefined);
    built.set(key, build);
  }
  return build;
}

/**
 * Builds the web console (`vite build`) into `outDir`, for a server started
 * with `--console-dir` (DROVER_CONSOLE_DIR): a folder of the test's own, so
 * no build of packages/console/dist elsewhere in the run (pack.sh empties and
 * rewrites it) changes the files under a page being loaded.
 */
export async function buildConsole(outDir: string): Promise<void> {
  await promisify(execFile)(
    process.execPath,
    [
      `${ROOT}packages/console/node_modules/vite/bin/vite.js`,
      'build',
      '--outDir',
      outDir,
      '--emptyOutDir',
      '--logLevel',
      'error',
    ],
    { cwd: `${ROOT}packages/console` },
  );
}
