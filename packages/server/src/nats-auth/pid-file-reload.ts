import { readFile } from 'node:fs/promises';

/**
 * Tells the nats-server whose pid is in `pidFile` (its `pid_file` / `-P`) to
 * reload its configuration (SIGHUP). Read each time: nats-server may have restarted.
 */
export function reloadByPidFile(pidFile: string): () => Promise<void> {
  return async () => {
    const text = (await readFile(pidFile, 'utf8')).trim();
    const pid = Number(text);
    if (!Number.isInteger(pid) || pid <= 0) {
      throw new Error(`NATS pid file ${pidFile} holds "${text.slice(0, 20)}", not a process id`);
    }
    try {
      process.kill(pid, 'SIGHUP');
    } catch (err) {
      throw new Error(
        `could not signal nats-server (pid ${pid} from ${pidFile}) to reload: ${(err as Error).message}`,
        { cause: err },
      );
    }
  };
}
