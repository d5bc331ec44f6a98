import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { envSecret, warnSecretInArgv } from '@drover/transport';
import { ApiClient } from '../client/api-client.js';
import { CliError, Exit } from '../client/exit-codes.js';
import { readClusterInfo, readCredentials } from '../up/cluster-files.js';

export interface GlobalOptions {
  server?: string;
  app?: string;
  secret?: string;
  json?: boolean;
  dataDir: string;
}

// root's home is closed to the `postgres` user that Postgres must run as
// (it refuses root), so root keeps its data where services keep theirs.
export const DEFAULT_DATA_DIR =
  process.env.DROVER_DATA_DIR ??
  (process.getuid?.() === 0 ? '/var/lib/drover' : join(homedir(), '.drover'));

export interface Connection {
  api: ApiClient;
  app: string;
  json: boolean;
  natsUrl?: string;
}

/**
 * Where commands send their calls: flags first, then DROVER_* variables, then
 * what a running `drover up` wrote in its data dir.
 */
export async function connect(opts: GlobalOptions): Promise<Connection> {
  const cluster = await readClusterInfo(opts.dataDir);
  const credentials = await readCredentials(opts.dataDir);
  const server = await serverUrl(opts);
  const app = opts.app ?? process.env.DROVER_APP ?? credentials?.app ?? cluster?.app;
  if (!app) throw new CliError('which app? give --app <name> (or DROVER_APP)', Exit.USAGE);
  if (opts.secret) warnSecretInArgv('--secret', 'DROVER_APP_SECRET or DROVER_APP_SECRET_FILE');
  const secret =
    opts.secret ??
    envSecret('DROVER_APP_SECRET') ??
    (credentials?.app === app ? credentials.secret : undefined);
  return {
    api: new ApiClient(server, secret),
    app,
    json: opts.json ?? false,
    natsUrl: cluster?.natsUrl,
  };
}

/** The server's base URL: --server, DROVER_SERVER_URL, or a running `drover up`. */
export async function serverUrl(opts: GlobalOptions): Promise<string> {
  const server =
    opts.server ??
    process.env.DROVER_SERVER_URL ??
    (await readClusterInfo(opts.dataDir))?.serverUrl;
  if (!server) {
    throw new CliError(
      'no server to talk to: start one with `drover up`, or give --server <url> (or DROVER_SERVER_URL)',
      Exit.USAGE,
    );
  }
  return server.replace(/\/+$/, '');
}

/** NATS for monitoring: --nats, DROVER_NATS_URL, or a running `drover up`. */
export async function natsUrl(opts: GlobalOptions & { nats?: string }): Promise<string> {
  const url =
    opts.nats ?? process.env.DROVER_NATS_URL ?? (await readClusterInfo(opts.dataDir))?.natsUrl;
  if (!url) {
    throw new CliError(
      'no NATS to watch: start `drover up`, or give --nats <url> (or DROVER_NATS_URL)',
      Exit.USAGE,
    );
  }
  return url;
}

/** Prints data as JSON for scripts, or the human rendering. */
export function print(conn: { json: boolean }, data: unknown, human: () => string): void {
  console.log(conn.json ? JSON.stringify(data, null, 2) : human());
}

/** All of stdin, read as a stream (a non-blocking stdin fails a synchronous read with EAGAIN). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A JSON argument (params): the JSON itself, `@path` for a file that holds
 * it, or `@-` for stdin (JSON never starts with `@`), as curl reads data. A
 * usage error names the flag (and the file).
 */
export async function jsonFlag(flag: string, value: string | undefined): Promise<unknown> {
  if (value === undefined) return undefined;
  const usage = (message: string) =>
    new CliError(message, Exit.USAGE, { issues: [{ path: flag, message }] });
  const from = value.startsWith('@') ? value.slice(1) : undefined;
  const where = from === '-' ? 'stdin' : from;
  let text = value;
  if (from !== undefined) {
    if (from === '') throw usage(`${flag} @ needs a file name (@params.json, or @- for stdin)`);
    try {
      text = from === '-' ? await readStdin() : await readFile(from, 'utf8');
    } catch (err) {
      throw usage(`${flag}: cannot read ${where}: ${(err as Error).message}`);
    }
    // An editor's byte order mark is not part of the JSON.
    if (text.startsWith('\uFEFF')) text = text.slice(1);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const source = where === undefined ? '' : ` (read from ${where})`;
    throw usage(`${flag} must be JSON${source}: ${(err as Error).message}`);
  }
}
