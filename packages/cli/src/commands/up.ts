import { type Command, InvalidArgumentError } from 'commander';
import { CliError, Exit } from '../client/exit-codes.js';
import { up } from '../up/up.js';
import { upLogger } from '../up/up-logger.js';
import type { GlobalOptions } from './context.js';

const count = (flag: string, min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}`);
  return n;
};

export function upCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('up')
    .description('run a whole cluster here: nats-server, embedded Postgres, a server, workers')
    .option('--workers <n>', 'workers running the example processors', count('--workers', 0, 16), 2)
    .option('--port <port>', 'HTTP API port (0: any free one)', count('--port', 0, 65_535), 7700)
    .option('--nats <url>', 'use this NATS instead of spawning nats-server')
    .option('--database <url>', 'use this Postgres instead of the embedded one')
    .option('--log-level <level>', 'pino level for the cluster’s own logs (stderr)', 'warn')
    .option(
      '--json-logs',
      'JSON log lines even on a terminal (they are JSON when stderr is not one)',
    )
    .action(
      async (o: {
        workers: number;
        port: number;
        nats?: string;
        database?: string;
        logLevel: string;
        jsonLogs?: boolean;
      }) => {
        const g = globals();
        const log = upLogger(o.logLevel, { json: o.jsonLogs ?? false });
        const cluster = await up({
          dataDir: g.dataDir,
          workers: o.workers,
          app: g.app ?? 'demo',
          httpPort: o.port,
          natsUrl: o.nats,
          databaseUrl: o.database,
          log,
        }).catch((err: Error) => {
          // A missing nats-server, a taken port, a damaged data dir: say so and stop.
          throw new CliError(`drover up failed: ${err.message}`, Exit.UNAVAILABLE);
        });
        console.log(
          [
            'drover up: cluster running',
            `  API        ${cluster.serverUrl}  (OpenAPI: ${cluster.serverUrl}/api/v1/openapi.json)`,
            `  NATS       ${cluster.natsUrl}  (monitor: \`drover monitor\`, \`nats micro ls\`)`,
            `  Postgres   ${cluster.database}`,
            `  app        ${cluster.app}  (secret in ${g.dataDir}/credentials.json)`,
            `  workers    ${cluster.workerIds.join(', ') || 'none'}`,
            '  try        drover job create --name sum --processor sum-range --execute MAP_REDUCE',
            'Ctrl-C stops everything.',
          ].join('\n'),
        );
        await new Promise<void>((resolve) => {
          for (const signal of ['SIGINT', 'SIGTERM'] as const)
            process.once(signal, () => resolve());
        });
        console.log('drover up: stopping');
        await cluster.stop();
        console.log('drover up: stopped');
      },
    );
}
