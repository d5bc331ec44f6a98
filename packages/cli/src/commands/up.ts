import { warnSecretInArgv } from '@drover/transport';
import { ProcessorModuleError } from '@drover/worker';
import { type Command, InvalidArgumentError } from 'commander';
import { CliError, Exit } from '../client/exit-codes.js';
import { up } from '../up/up.js';
import { upLogger } from '../up/up-logger.js';
import type { GlobalOptions } from './context.js';
import { envFlag } from './nats-credentials.js';
import { browserOpener, openInBrowser } from './open-console.js';
import { banner, consoleUrl } from './up-banner.js';

const count = (flag: string, min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}`);
  return n;
};

/** A URL holding a password: a flag shows it in `ps`. */
const hasPassword = (url: string) => /\/\/[^/@]*:[^/@]*@/.test(url);

/**
 * --database, warned when it holds a password. Not read from DROVER_DATABASE_URL:
 * a shell set up for a drover-server must not turn `drover up` away from its own Postgres.
 */
function databaseUrl(flag: string | undefined): string | undefined {
  if (flag && hasPassword(flag))
    warnSecretInArgv(
      '--database with a password',
      'the URL without it and PGPASSWORD or ~/.pgpass (node-postgres reads both)',
    );
  return flag;
}

export function upCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('up')
    .description('run a whole cluster here: nats-server, embedded Postgres, a server, workers')
    .option('--workers <n>', 'workers running the processors', count('--workers', 0, 16), 2)
    .option(
      '--processors <module...>',
      'JS or TS modules exporting your processors, run by the workers (default: the examples)',
    )
    .option('--port <port>', 'HTTP API port (0: any free one)', count('--port', 0, 65_535), 7700)
    .option('--nats <url>', 'use this NATS instead of spawning nats-server (no credentials in it)')
    .option(
      '--nats-nkey-file <path>',
      'with --nats: nkey seed file the server and workers connect with (DROVER_NATS_NKEY_FILE)',
    )
    .option(
      '--insecure-nats',
      'with --nats: accept a NATS without authentication (DROVER_INSECURE_NATS=1); see docs/security.md',
    )
    .option(
      '--database <url>',
      'use this Postgres instead of the embedded one (a password in it shows in `ps`: use PGPASSWORD or ~/.pgpass)',
    )
    .option(
      '--postgres-bin <dir>',
      'folder holding initdb and postgres (default: $DROVER_POSTGRES_BIN, the machine’s Postgres, then the npm package’s)',
    )
    .option(
      '--no-open',
      'do not open the web console in a browser (it opens only on a desktop terminal, never in CI)',
    )
    .option('--log-level <level>', 'pino level for the cluster’s own logs (stderr)', 'warn')
    .option(
      '--json-logs',
      'JSON log lines even on a terminal (they are JSON when stderr is not one)',
    )
    .action(
      async (o: {
        workers: number;
        processors?: string[];
        port: number;
        nats?: string;
        natsNkeyFile?: string;
        insecureNats?: boolean;
        database?: string;
        postgresBin?: string;
        logLevel: string;
        jsonLogs?: boolean;
        open: boolean;
      }) => {
        const g = globals();
        const log = upLogger(o.logLevel, { json: o.jsonLogs ?? false });
        // Listening from the start: Ctrl-C while starting stops what started and frees the lock.
        // A second Ctrl-C is not caught (the default: exit at once; the children die with us).
        const abort = new AbortController();
        const stopped = new Promise<NodeJS.Signals>((resolve) => {
          for (const signal of ['SIGINT', 'SIGTERM'] as const)
            process.once(signal, () => {
              abort.abort();
              resolve(signal);
            });
        });
        if (o.nats && hasPassword(o.nats))
          warnSecretInArgv('--nats with a password', '--nats-nkey-file (docs/security.md)');
        const cluster = await up({
          dataDir: g.dataDir,
          workers: o.workers,
          app: g.app ?? 'demo',
          httpPort: o.port,
          processors: o.processors,
          natsUrl: o.nats,
          // Only with --nats: `drover env` output in the shell must not change a plain `drover up`.
          natsNkeyFile: o.nats
            ? (o.natsNkeyFile ?? process.env.DROVER_NATS_NKEY_FILE)
            : o.natsNkeyFile,
          insecureNats: o.nats
            ? (o.insecureNats ?? envFlag('DROVER_INSECURE_NATS'))
            : o.insecureNats,
          databaseUrl: databaseUrl(o.database),
          postgresBin: o.postgresBin ?? process.env.DROVER_POSTGRES_BIN,
          signal: abort.signal,
          log,
        }).catch(async (err: Error) => {
          if (abort.signal.aborted) {
            // Interrupted while starting: what started is stopped; exit as the signal would have.
            const signal = await stopped;
            throw new CliError(
              `drover up: stopped by ${signal} while starting`,
              128 + (signal === 'SIGINT' ? 2 : 15),
            );
          }
          // A missing nats-server or Postgres, a taken port, a full disk, a damaged data dir: say so and stop.
          // A processors module that does not load is the user's input to fix.
          const code = err instanceof ProcessorModuleError ? Exit.USAGE : Exit.UNAVAILABLE;
          throw new CliError(`drover up failed: ${err.message}`, code);
        });
        console.log(banner(cluster, g.dataDir));
        const opener = o.open
          ? browserOpener({
              env: process.env,
              platform: process.platform,
              isTTY: process.stdout.isTTY === true,
            })
          : null;
        if (opener) openInBrowser(opener, consoleUrl(cluster));
        await stopped;
        console.log('drover up: stopping');
        await cluster.stop().catch((err: Error) => {
          throw new CliError(`drover up: ${err.message}`, Exit.SERVER_ERROR);
        });
        console.log('drover up: stopped');
      },
    );
}
