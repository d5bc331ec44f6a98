import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiClient } from '../../packages/server/test/support/api-client.js';
import { type CliOptions, spawnCli } from './drover-cli.js';
import type { ReadyProcess } from './process.js';

// A real `drover up` (the CLI from source) on a data dir, and an API client
// for its app, for the tests of what `drover up` promises.

export interface UpProcess {
  proc: ReadyProcess;
  serverUrl: string;
  /** Its NATS (from the banner). */
  natsUrl: string;
  app: string;
  /** The API, authenticated as the app. */
  api: ApiClient;
  /** When the "cluster running" banner was seen (performance.now()). */
  readyAt: number;
}

export const FINAL = ['SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED'];

export async function startUp(
  dataDir: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  options: CliOptions = {},
): Promise<UpProcess> {
  const proc = await spawnCli(
    ['--data-dir', dataDir, 'up', '--port', '0', '--workers', '1', ...args],
    /Ctrl-C stops everything/,
    env,
    options,
  );
  const readyAt = performance.now();
  const serverUrl = proc.find(/API\s+(\S+)/) as string;
  const credentials = JSON.parse(await readFile(join(dataDir, 'credentials.json'), 'utf8'));
  return {
    proc,
    serverUrl,
    natsUrl: proc.find(/NATS\s+(nats:\S+)/) as string,
    app: credentials.app,
    api: new ApiClient(`${serverUrl}/api/v1/apps/${credentials.app}`, credentials.secret),
    readyAt,
  };
}

/** Polls an instance until `predicate` holds for it, failing after `timeoutMs`. */
export async function instanceWhere(
  api: ApiClient,
  instanceId: string,
  predicate: (instance: Record<string, unknown>) => boolean,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const res = await api.get(`/instances/${instanceId}`);
    if (res.status === 200 && predicate(res.body)) return res.body;
    if (performance.now() > until)
      throw new Error(
        `instance ${instanceId} still ${JSON.stringify(res.body)} after ${timeoutMs} ms`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
