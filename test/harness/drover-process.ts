import { fileURLToPath } from 'node:url';
import { BUILT_ENTRY } from './built-binaries.js';
import { type ProcessResult, type ReadyProcess, runToEnd, spawnReady } from './process.js';
import { inTurn } from './start-gate.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const ENTRY = {
  server: 'packages/server/src/main.ts',
  worker: 'packages/worker/src/main.ts',
} as const;

/** The run's start gate (global-setup.ts), when running under vitest. */
async function startGatePort(): Promise<number | undefined> {
  if (!process.env.VITEST_POOL_ID) return undefined;
  const { inject } = await import('vitest');
  return inject('startGatePort');
}

/**
 * Starts a real Drover binary (its entry file, run from source through the
 * tsx import hook so no build is needed) and waits for the log line that says
 * it is up. Under vitest it waits for its turn at the start gate first
 * (start-gate.ts); its ready deadline counts from then.
 */
export async function spawnDrover(
  binary: keyof typeof ENTRY,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  nodeArgs: string[] = [],
  onLine?: (line: string) => void,
): Promise<ReadyProcess> {
  // node itself runs the entry (tsx only as an import hook), so a signal sent
  // to the child, SIGKILL included, reaches the Drover process and not a wrapper.
  return inTurn(await startGatePort(), () =>
    spawnReady(
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
    ),
  );
}

/**
 * Runs a built Drover binary to its end (e.g. one refusing its settings),
 * with no DROVER_* variables but those of `env`. Call `buildBinaries()` first:
 * plain node starts in a fraction of tsx's time, which counts on a loaded machine.
 */
export function runBuiltDrover(
  binary: keyof typeof ENTRY,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ProcessResult> {
  const clean = Object.entries(process.env).filter(([k]) => !k.startsWith('DROVER_'));
  return runToEnd(process.execPath, [BUILT_ENTRY[binary], ...args], {
    env: { ...Object.fromEntries(clean), ...env },
    cwd: ROOT,
    timeoutMs: 60_000,
  });
}

/**
 * Starts a built Drover binary as users run it (plain node on its `dist/`
 * entry, no tsx hook): for benchmarks, where the hook's cost must not count.
 * Call `buildBinaries()` first.
 */
export function spawnBuiltDrover(
  binary: keyof typeof ENTRY,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  nodeArgs: string[] = [],
): Promise<ReadyProcess> {
  return spawnReady(process.execPath, [...nodeArgs, BUILT_ENTRY[binary], ...args], {
    env: { ...process.env, ...env },
    cwd: ROOT,
    ready,
    timeoutMs: 30_000,
  });
}
