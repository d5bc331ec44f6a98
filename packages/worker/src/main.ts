#!/usr/bin/env node
import { delimiter } from 'node:path';
import { DROVER_VERSION } from '@drover/protocol';
import {
  EnvFlagError,
  envFlag,
  envSecret,
  isNatsAuthError,
  NatsNotSecuredError,
  NkeySeedFileError,
  readNkeySeedFile,
  SecretSettingError,
} from '@drover/transport';
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { WorkerExit } from './exit-codes.js';
import { DEFAULT_MAX_QUEUED_RUNS, MAX_QUEUED_RUNS_LIMIT } from './runtime/run-queue.js';
import { startWorker } from './runtime/worker.js';
import { WorkerRefusedError } from './runtime/worker-check.js';
import { loadProcessors, ProcessorModuleError } from './sdk/load-processors.js';

// `drover-worker`: runs the processors some modules export, for one app.

/** A whole number from min to max; commander's error names the flag or the variable it came from. */
const integerIn = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
  return n;
};
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const MAX_THREADS = 1_024;

const env = process.env;

/** A yes/no variable (1/true/yes, 0/false/no or unset), or a usage error naming it. */
function flag(name: string): boolean {
  try {
    return envFlag(name);
  } catch (err) {
    if (!(err instanceof EnvFlagError)) throw err;
    console.error(`drover-worker: ${err.message}`);
    process.exit(WorkerExit.USAGE);
  }
}
const program = new Command('drover-worker')
  .description('Drover worker: runs an app’s processors for the runs the server dispatches')
  .version(DROVER_VERSION, '-V, --version', 'print the Drover version')
  // Values that may hold credentials are read with .env(), not given as defaults:
  // --help prints defaults, and help output gets pasted into issues.
  .addOption(
    new Option('--nats <url>', 'NATS server URL')
      .env('DROVER_NATS_URL')
      .default('nats://127.0.0.1:4222'),
  )
  .option(
    '--nats-user <user>',
    'NATS user (DROVER_NATS_USER); password from DROVER_NATS_PASS',
    env.DROVER_NATS_USER,
  )
  .option(
    '--nats-nkey-file <path>',
    'file holding the app’s worker nkey seed (SU…), from `drover app create` or the worker-keys API (DROVER_NATS_NKEY_FILE)',
    env.DROVER_NATS_NKEY_FILE,
  )
  .option(
    '--insecure-nats',
    'run even if NATS does not require authentication (DROVER_INSECURE_NATS=1); see docs/security.md',
    flag('DROVER_INSECURE_NATS'),
  )
  .option('--app <name>', 'app name (DROVER_APP)', env.DROVER_APP)
  .requiredOption(
    '--processors <module...>',
    `JS or TS modules exporting processors (DROVER_PROCESSORS, separated by "${delimiter}")`,
    env.DROVER_PROCESSORS?.split(delimiter).filter((m) => m !== ''),
  )
  .option(
    '--concurrency <n>',
    'standalone runs held at once, and task slots offered',
    integerIn(1, 100_000),
    8,
  )
  .addOption(
    new Option(
      '--max-queued-runs <n>',
      'standalone runs accepted beyond --concurrency, started in arrival order as slots free',
    )
      .env('DROVER_MAX_QUEUED_RUNS')
      .argParser(integerIn(0, MAX_QUEUED_RUNS_LIMIT))
      .default(DEFAULT_MAX_QUEUED_RUNS),
  )
  .option(
    '--threads <n>',
    'processor threads (default: one per core, at most concurrency; 0 = main thread)',
    integerIn(0, MAX_THREADS),
  )
  .option('--tag <tag...>', 'tags jobs can require', [])
  .addOption(
    new Option(
      '--drain-grace-ms <ms>',
      'on SIGTERM, how long running work may finish before it is handed back',
    )
      .env('DROVER_DRAIN_GRACE_MS')
      .argParser(integerIn(1, 24 * 3_600_000))
      .default(30_000),
  )
  .option(
    '--worker-id <id>',
    'this worker’s id (default: host name and a random suffix)',
    env.DROVER_WORKER_ID,
  )
  .addOption(
    new Option(
      '--metrics-port <port>',
      'serve Prometheus metrics at GET /metrics on this port (off by default)',
    )
      .env('DROVER_WORKER_METRICS_PORT')
      .argParser(integerIn(0, 65_535)),
  )
  .addOption(
    new Option('--metrics-host <host>', 'address the metrics port listens on')
      .env('DROVER_WORKER_METRICS_HOST')
      .default('127.0.0.1'),
  )
  .addOption(
    new Option('--log-level <level>', 'pino level')
      .env('DROVER_LOG_LEVEL')
      .choices(LOG_LEVELS)
      .default('info'),
  )
  .addHelpText(
    'after',
    `\nExit codes: ${WorkerExit.OK} stopped, ${WorkerExit.UNCLEAN} unclean stop, ${WorkerExit.USAGE} bad input, ${WorkerExit.UNAUTHORIZED} refused (no such app, worker id held by another live process, NATS credentials refused, or NATS without authentication: see --insecure-nats).`,
  )
  // A bad flag or variable: one line naming it, exit 2 (not a stack trace, not the help).
  .configureOutput({ outputError: (text, write) => write(`drover-worker: ${text}`) })
  .exitOverride((err) => process.exit(err.exitCode === 0 ? WorkerExit.OK : WorkerExit.USAGE));
// An empty variable counts as unset (`DROVER_MAX_QUEUED_RUNS= drover-worker`), as before.
for (const opt of program.options) if (opt.envVar && env[opt.envVar] === '') delete env[opt.envVar];
program.parse();
const o = program.opts<{
  nats: string;
  natsUser?: string;
  natsNkeyFile?: string;
  insecureNats: boolean;
  app?: string;
  processors: string[];
  concurrency: number;
  maxQueuedRuns: number;
  threads?: number;
  tag: string[];
  drainGraceMs: number;
  workerId?: string;
  metricsPort?: number;
  metricsHost: string;
  logLevel: string;
}>();

// Secrets from NAME or NAME_FILE.
let natsPass: string | undefined;
try {
  natsPass = envSecret('DROVER_NATS_PASS');
} catch (err) {
  if (!(err instanceof SecretSettingError)) throw err;
  console.error(`drover-worker: ${err.message}`);
  process.exit(WorkerExit.USAGE);
}

if (!o.app) {
  console.error('drover-worker: --app is required (or its DROVER_ environment variable)');
  process.exit(WorkerExit.USAGE);
}
const log = pino({ level: o.logLevel, redact: ['natsPass'] });
// Each message names the file (and for a clash, the processor and both files).
const processors = await loadProcessors(o.processors).catch((err: Error) => {
  console.error(`drover-worker: ${err.message}`);
  process.exit(WorkerExit.USAGE);
});
const natsNkeySeed = o.natsNkeyFile
  ? await readNkeySeedFile(o.natsNkeyFile, log).catch((err: Error) => {
      console.error(
        `drover-worker: ${err instanceof NkeySeedFileError ? err.message : String(err)} (--nats-nkey-file / DROVER_NATS_NKEY_FILE)`,
      );
      process.exit(WorkerExit.USAGE);
    })
  : undefined;
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

const refused = (message: string): never => {
  log.fatal(message);
  console.error(`drover-worker: ${message}`);
  process.exit(WorkerExit.UNAUTHORIZED);
};

const worker = await startWorker({
  natsUrl: o.nats,
  natsUser: o.natsUser,
  natsPass,
  natsNkeySeed,
  insecureNats: o.insecureNats,
  app: o.app as string,
  processors,
  concurrency: o.concurrency,
  maxQueuedRuns: o.maxQueuedRuns,
  processorsModule: o.processors,
  threads: o.threads,
  tags: o.tag,
  drainGraceMs: o.drainGraceMs,
  workerId: o.workerId,
  metricsPort: o.metricsPort,
  metricsHost: o.metricsHost,
  onRefused: (err) => refused(err.message),
  logger: log,
}).catch((err: unknown) => {
  if (err instanceof WorkerRefusedError) return refused(err.message);
  if (isNatsAuthError(err))
    return refused(
      `NATS refused the credentials of app ${o.app}'s worker (${o.natsNkeyFile ? `nkey file ${o.natsNkeyFile}` : 'DROVER_NATS_NKEY_FILE, or DROVER_NATS_USER / DROVER_NATS_PASS'}): ${(err as Error).message}`,
    );
  // A NATS anyone may use, and the worker was not told that is fine: refused like a credential.
  if (err instanceof NatsNotSecuredError) return refused(`app ${o.app}'s worker: ${err.message}`);
  // E.g. processor threads that cannot load the modules: fail now, not respawn forever.
  console.error(`drover-worker: ${(err as Error).message}`);
  process.exit(err instanceof ProcessorModuleError ? WorkerExit.USAGE : WorkerExit.UNCLEAN);
});
log.info({ workerId: worker.workerId }, 'drover-worker running');
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    worker.stop().then(
      () => process.exit(WorkerExit.OK),
      (err: unknown) => {
        log.error({ err }, 'unclean stop');
        process.exit(WorkerExit.UNCLEAN);
      },
    );
  });
}
