import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { type NatsProcess, startNatsProcess } from './nats-process.js';
import { writeFileAtomic } from './write-file-atomic.js';

// NATS keeps its port across restarts of the same data dir, so a worker
// started against `drover env`'s URL reconnects instead of being stranded.

const NatsPort = z.object({ port: z.number().int().min(1).max(65_535) });
const natsFile = (dataDir: string) => join(dataDir, 'nats.json');

/** The port an earlier `drover up` on this data dir gave nats-server, if any. */
export async function readNatsPort(dataDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(natsFile(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  const parsed = NatsPort.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new Error(`${natsFile(dataDir)} is damaged: ${z.prettifyError(parsed.error)}`);
  return parsed.data.port;
}

/**
 * Starts nats-server on the port this data dir had before (a free one the
 * first time) and records it. If someone else took that port, a free one is
 * used and the warning says which workers must be restarted.
 */
export async function startNatsForDataDir(
  dataDir: string,
  log: Logger,
  onRestart?: (pid: number) => Promise<void>,
  configFile?: string,
): Promise<NatsProcess> {
  const known = await readNatsPort(dataDir).catch((err: Error) => {
    log.warn({ err: err.message }, 'NATS port record unreadable; choosing a new port');
    return undefined;
  });
  const options = { log: log.child({ role: 'nats-server' }), onRestart, configFile };
  let nats: NatsProcess;
  try {
    nats = await startNatsProcess(known, options);
  } catch (err) {
    if (known === undefined || !/address already in use/i.test((err as Error).message)) throw err;
    nats = await startNatsProcess(undefined, options);
    log.warn(
      { previous: `nats://127.0.0.1:${known}`, now: nats.url },
      `NATS port ${known} is taken by another process: NATS moved to ${nats.url}; ` +
        'workers started against the old URL must be restarted (see `drover env`)',
    );
  }
  const port = Number(new URL(nats.url).port);
  if (port !== known) await writeFileAtomic(natsFile(dataDir), JSON.stringify({ port }));
  return nats;
}
