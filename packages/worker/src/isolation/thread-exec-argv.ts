import { Worker, type WorkerOptions } from 'node:worker_threads';

// Processor threads run with node's own flags (a loader such as tsx, import
// conditions), but a thread refuses V8 and per-process flags (e.g.
// `--max-old-space-size`), and the worker could not start with one. Those
// already apply to the whole process, so a thread goes without them.

let accepted: string[] | undefined;

const isInvalidExecArgv = (err: unknown): err is Error =>
  (err as { code?: string }).code === 'ERR_WORKER_INVALID_EXEC_ARGV';

/** Starts a thread with this process's flags, less those a thread refuses (learnt once). */
export function spawnThread(entry: URL, options: Omit<WorkerOptions, 'execArgv'>): Worker {
  if (accepted) return new Worker(entry, { ...options, execArgv: accepted });
  try {
    const worker = new Worker(entry, { ...options, execArgv: process.execArgv });
    accepted = process.execArgv;
    return worker;
  } catch (err) {
    if (!isInvalidExecArgv(err)) throw err;
    // Node names the flags it refused: "… invalid execArgv flags: --a, --b".
    const refused = err.message.split('execArgv flags:')[1] ?? '';
    const kept = process.execArgv.filter((flag) => !refused.includes(flag));
    if (kept.length === process.execArgv.length) throw err;
    accepted = kept;
    return new Worker(entry, { ...options, execArgv: kept });
  }
}
