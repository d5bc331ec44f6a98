import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type ReadyProcess, spawnReady } from './process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARGS = ['--import', 'tsx', '--conditions=drover-source', `${ROOT}packages/cli/src/main.ts`];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the `drover` CLI (from source) to its end, with no DROVER_* variables from this process. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...ARGS, ...args], {
      cwd: ROOT,
      env: { ...cleanEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts a long-running CLI command (`up`, `monitor`) and waits for the line that says it is up. */
export function spawnCli(
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<ReadyProcess> {
  return spawnReady(process.execPath, [...ARGS, ...args], {
    cwd: ROOT,
    env: { ...cleanEnv(), ...env },
    ready,
    timeoutMs: 60_000,
  });
}

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DROVER_')));
}

/**
 * Like `spawnCli`, but under `script` (util-linux), so the CLI's stdout and
 * stderr are a terminal. `cliPid` is the CLI itself (script's child), to signal.
 */
export async function spawnCliInTerminal(
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<ReadyProcess & { cliPid: number }> {
  const command = [process.execPath, ...ARGS, ...args].map(shellWord).join(' ');
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
