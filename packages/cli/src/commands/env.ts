import type { Command } from 'commander';
import { CliError, Exit } from '../client/exit-codes.js';
import { readAdminToken, readClusterInfo, readCredentials } from '../up/cluster-files.js';
import { holderAlive, readLockHolder } from '../up/data-dir-lock.js';
import type { GlobalOptions } from './context.js';

// `drover env`: what a separate drover-worker, the CLI or a client needs to
// join the running `drover up`, as lines a shell can source (with `set -a`)
// or a systemd/Docker env file can hold.
// The names are the ones drover-worker and the CLI read (DROVER_*).

/** Quotes a value for POSIX shells when it holds anything beyond plain URL characters. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function envCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('env')
    .description(
      'print KEY=value lines to join the running `drover up` (set -a; eval "$(drover env)"; set +a)',
    )
    .action(async () => {
      const { dataDir } = globals();
      const cluster = await readClusterInfo(dataDir);
      const holder = await readLockHolder(dataDir);
      if (!cluster || !holder || !(await holderAlive(holder))) {
        throw new CliError(
          `no drover up is running for data dir ${dataDir} (start one with \`drover up\`)`,
          Exit.UNAVAILABLE,
        );
      }
      const credentials = await readCredentials(dataDir);
      const vars: [string, string | undefined][] = [
        ['DROVER_SERVER_URL', cluster.serverUrl],
        ['DROVER_NATS_URL', cluster.natsUrl],
        ['DROVER_APP', cluster.app],
        // The seed stays in its file (0600): only its path is printed.
        ['DROVER_NATS_NKEY_FILE', cluster.workerNkeyFile],
        ['DROVER_INSECURE_NATS', cluster.insecureNats ? '1' : undefined],
        ['DROVER_APP_SECRET', credentials?.app === cluster.app ? credentials.secret : undefined],
        // For `drover app create` and other admin calls to this server.
        ['DROVER_ADMIN_TOKEN', await readAdminToken(dataDir)],
      ];
      for (const [key, value] of vars)
        if (value !== undefined) console.log(`${key}=${shellQuote(value)}`);
    });
}
