import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { BUILT_ENTRY } from './built-binaries.js';
import { type ProcessResult, type ReadyProcess, runToEnd, spawnReady } from './process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARGS = ['--import', 'tsx', '--conditions=drover-source', `${ROOT}packages/cli/src/main.ts`];

export interface CliOptions {
  /** Run packages/cli/dist (see buildBinaries) instead of the sources. */
  built?: boolean;
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Run as this user (this process must be root to switch). */
  user?: { uid: number; gid: number };
  /** In a process group of its own (spawnCli only): signal `-pid` as a terminal's Ctrl-C does. */
  detached?: boolean;
  /** Written to its stdin (runCli only). */
  input?: string;
}

const cliArgs = (o: CliOptions) => (o.built ? [BUILT_ENTRY.cli] : ARGS);

/** Runs the `drover` CLI (from source unless `built`) to its end, with no DROVER_* variables from this process. */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: CliOptions = {},
): Promise<ProcessResult> {
  return runToEnd(process.execPath, [...cliArgs(options), ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...cleanEnv(), ...env },
    ...options.user,
    input: options.input,
  });
}

/** Starts a long-running CLI command (`up`, `monitor`) and waits for the line that says it is up. */
export function spawnCli(
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
  options: CliOptions = {},
): Promise<ReadyProcess> {
  return spawnReady(process.execPath, [...cliArgs(options), ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...cleanEnv(), ...env },
    ready,
    timeoutMs: 60_000,
    ...options.user,
    detached: options.detached,
  });
}

// Settings and colour switches the CI runner may set (NO_COLOR, FORCE_COLOR)
// are dropped so that each test says what it expects.
const INHERITED_NOT = (name: string) =>
  name.startsWith('DROVER_') || name === 'NO_COLOR' || name === 'FORCE_COLOR';

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !INHERITED_NOT(k)));
}

/**
 * Like `spawnCli`, but under `script` (util-linux), so the CLI's stdout and
 * stderr are a terminal. `cliPid` is the CLI itself (script's child), to signal.
 */
export async function spawnCliInTerminal(
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
  options: Pick<CliOptions, 'built'> = {},
): Promise<ReadyProcess & { cliPid: number }> {
  const command = [process.execPath, ...cliArgs(options), ...args].map(shellWord).join(' ');
  const started = await spawnReady('script', ['-qfec', `exec ${command}`, '/dev/null'], {
    cwd: ROOT,
    env: { ...cleanEnv(), ...env },
    ready,
    timeoutMs: 60_000,
  });
  const pid = started.child.pid as number;
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
  return { ...started, cliPid: Number(children.trim().split(' ')[0]) };
}

const shellWord = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** A CLI bound to one cluster: `drover(...args)` as the tests call it. */
export type Drover = (...args: string[]) => Promise<ProcessResult>;

/**
 * Creates a job through the CLI (`--json job create`) and runs it with
 * `job run --wait`: the finished instance as the CLI printed it. Fails with
 * the CLI's stderr when either command exits non-zero.
 */
export async function createAndRunJob(
  drover: Drover,
  job: { name: string; processor: string; execute: string; params: unknown },
): Promise<{ id: string; status: string; result: string; [k: string]: unknown }> {
  const created = await drover(
    '--json',
    'job',
    'create',
    '--name',
    job.name,
    '--processor',
    job.processor,
    '--execute',
    job.execute,
  );
  if (created.code !== 0) throw new Error(`job create exited ${created.code}: ${created.stderr}`);
  const jobId = (JSON.parse(created.stdout) as { id: string }).id;
  const run = await drover(
    '--json',
    'job',
    'run',
    jobId,
    '--params',
    JSON.stringify(job.params),
    '--wait',
  );
  if (run.code !== 0 || run.stdout === '')
    throw new Error(`job run --wait exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout);
}
