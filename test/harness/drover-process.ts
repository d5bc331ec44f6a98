import { fileURLToPath } from 'node:url';
import { type ReadyProcess, spawnReady } from './process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = `${ROOT}node_modules/.bin/tsx`;

const ENTRY = {
  server: 'packages/server/src/main.ts',
} as const;

/**
 * Starts a real Drover binary (its entry file, run by tsx from source so no
 * build is needed) and waits for the log line that says it is up.
 */
export function spawnDrover(
  binary: keyof typeof ENTRY,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
): Promise<ReadyProcess> {
  return spawnReady(TSX, ['--conditions=drover-source', `${ROOT}${ENTRY[binary]}`, ...args], {
    env: { ...process.env, ...env },
    cwd: ROOT,
    ready,
    timeoutMs: 30_000,
  });
}
