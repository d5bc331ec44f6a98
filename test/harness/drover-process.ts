import { fileURLToPath } from 'node:url';
import { type ReadyProcess, spawnReady } from './process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const ENTRY = {
  server: 'packages/server/src/main.ts',
  worker: 'packages/worker/src/main.ts',
} as const;

/**
 * Starts a real Drover binary (its entry file, run from source through the
 * tsx import hook so no build is needed) and waits for the log line that says it is up.
 */
export function spawnDrover(
  binary: keyof typeof ENTRY,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  nodeArgs: string[] = [],
  onLine?: (line: string) => void,
): Promise<ReadyProcess> {
  // node itself runs the entry (tsx only as an import hook), so a signal sent
  // to the child, SIGKILL included, reaches the Drover process and not a wrapper.
  return spawnReady(
    process.execPath,
    [
      ...nodeArgs,
      '--import',
      'tsx',
      '--conditions=drover-source',
      `${ROOT}${ENTRY[binary]}`,
      ...args,
    ],
    {
      env: { ...process.env, ...env },
      cwd: ROOT,
      ready,
      timeoutMs: 30_000,
      onLine,
    },
  );
}
