import { type ChildProcess, spawn } from 'node:child_process';
import { findOnPath } from './find-on-path.js';

// Children of `drover up` (nats-server, postgres) must not outlive it, even
// when it is killed with SIGKILL and runs no code of its own any more.
//
// On Linux they are started through `setpriv --pdeathsig <signal>`: the kernel
// sends them that signal when `drover up` dies, however it dies (setpriv execs
// the command, so the child's pid is the command's). Elsewhere, or without
// setpriv, they get the signal from an 'exit' hook: that covers a normal exit
// and an uncaught error, not SIGKILL; the data-dir lock records their pids so
// the next `drover up` can end leftovers.

/** A user to run a child as (Postgres refuses to run as root). */
export interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

export interface BoundChildOptions {
  /** What the child gets when this process dies: SIGINT is Postgres's fast shutdown. */
  deathSignal: 'SIGINT' | 'SIGTERM';
  runAs?: RunAs;
  env?: NodeJS.ProcessEnv;
}

let setprivPath: string | null | undefined;

/** `setpriv` on PATH (Linux only), looked up once. */
export function findSetpriv(): string | undefined {
  if (setprivPath === undefined)
    setprivPath = (process.platform === 'linux' && findOnPath('setpriv')) || null;
  return setprivPath ?? undefined;
}

/** Whether children die with this process even when it is SIGKILLed. */
export const childrenDieOnKill = (): boolean => findSetpriv() !== undefined;

/** `setpriv` arguments that switch to `runAs` (with its supplementary groups). */
export const setprivUserArgs = (runAs: RunAs): string[] => [
  '--reuid',
  String(runAs.uid),
  '--regid',
  String(runAs.gid),
  '--init-groups',
];

const unbound = new Map<ChildProcess, BoundChildOptions['deathSignal']>();
let exitHooked = false;

function hookExit(child: ChildProcess, signal: BoundChildOptions['deathSignal']): void {
  unbound.set(child, signal);
  child.once('exit', () => unbound.delete(child));
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    for (const [c, s] of unbound) c.kill(s);
  });
}

/**
 * Spawns `cmd` so that it gets `deathSignal` when this process dies; stdout and
 * stderr piped. In a session of its own (`detached`): Ctrl-C in a terminal goes
 * to the whole foreground process group, and `drover up` must stop its
 * children itself, after its workers have handed their work back.
 */
export function spawnBound(cmd: string, args: string[], options: BoundChildOptions): ChildProcess {
  const setpriv = findSetpriv();
  if (setpriv) {
    // --pdeathsig after the uid change: setpriv sets it last, so it survives the switch.
    const privArgs = [
      ...(options.runAs ? setprivUserArgs(options.runAs) : []),
      '--pdeathsig',
      options.deathSignal,
      '--',
    ];
    return spawn(setpriv, [...privArgs, cmd, ...args], {
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
  }
  const child = spawn(cmd, args, {
    env: options.env,
    uid: options.runAs?.uid,
    gid: options.runAs?.gid,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  hookExit(child, options.deathSignal);
  return child;
}
