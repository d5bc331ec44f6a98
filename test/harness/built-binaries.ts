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

let built: Promise<void> | undefined;

/**
 * Builds the CLI, the worker and the server (`tsc -b`, a few seconds when up
 * to date), so a test of the built binaries never runs a stale dist. Once per test file.
 */
export function buildBinaries(): Promise<void> {
  built ??= promisify(execFile)(
    process.execPath,
    [
      `${ROOT}node_modules/typescript/bin/tsc`,
      '-b',
      'packages/cli',
      'packages/worker',
      'packages/server',
    ],
    { cwd: ROOT },
  ).then(() => undefined);
  return built;
}
