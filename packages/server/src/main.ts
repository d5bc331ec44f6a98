#!/usr/bin/env node
import { DROVER_VERSION } from '@drover/protocol';
import {
  EnvFlagError,
  envFlag,
  envSecret,
  NatsNotSecuredError,
  readNkeySeedFile,
  SecretSettingError,
  warnIfSeedFileShared,
  warnSecretInArgv,
} from '@drover/transport';
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { ServerConfig } from './config.js';
import { reloadByPidFile } from './nats-auth/pid-file-reload.js';
import { startServer } from './server.js';

// `drover-server`: flags, with DROVER_* environment variables as defaults.

/** A whole number from min to max; commander's error names the flag or the variable it came from. */
const integerIn = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
  return n;
};
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'];

// Each setting's flag and variable, to name them when the whole config is refused.
const SETTING_NAMES: Record<string, string> = {
  natsUrl: '--nats / DROVER_NATS_URL',
  natsUser: '--nats-user / DROVER_NATS_USER',
  natsPass: 'DROVER_NATS_PASS',
  natsNkeySeed: '--nats-nkey-file / DROVER_NATS_NKEY_FILE',
  natsMonitorKeys: '--nats-monitor-key / DROVER_NATS_MONITOR_KEYS',
  databaseUrl: '--database / DROVER_DATABASE_URL',
  adminToken: 'DROVER_ADMIN_TOKEN',
  httpHost: '--http-host / DROVER_HTTP_HOST',
  httpAllowedHosts: '--http-allowed-hosts / DROVER_HTTP_ALLOWED_HOSTS',
  serverId: '--server-id / DROVER_SERVER_ID',
};

/** A comma list flag as names, blanks dropped. */
function commaList(value: string | number | undefined): string[] | undefined {
  if (typeof value !== 'string') return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const env = process.env;
/** A yes/no variable (1/true/yes, 0/false/no or unset), or a usage error naming it. */
function flag(name: string): boolean {
  try {
    return envFlag(name);
  } catch (err) {
    if (!(err instanceof EnvFlagError)) throw err;
    console.error(`drover-server: ${err.message}`);
    process.exit(2);
  }
}

const program = new Command('drover-server')
  .description(
    'Drover server: keeps jobs in Postgres, fires them on time, dispatches runs to workers',
  )
  .version(DROVER_VERSION, '-V, --version', 'print the Drover version')
  // URLs may hold credentials: read with .env(), never shown as --help defaults.
  .addOption(new Option('--nats <url>', 'NATS server URL').env('DROVER_NATS_URL'))
  .option('--nats-user <user>', 'NATS user (DROVER_NATS_USER)', env.DROVER_NATS_USER)
  .option(
    '--nats-nkey-file <path>',
    "file holding this server's NATS user nkey seed, SU… (DROVER_NATS_NKEY_FILE)",
    env.DROVER_NATS_NKEY_FILE,
  )
  .option(
    '--insecure-nats',
    'run even if NATS does not require authentication (DROVER_INSECURE_NATS=1)',
    flag('DROVER_INSECURE_NATS'),
  )
  .option(
    '--nats-auth-file <path>',
    "write nats-server's authorization include here from the database (DROVER_NATS_AUTH_FILE)",
    env.DROVER_NATS_AUTH_FILE,
  )
  .option(
    '--nats-pid-file <path>',
    "nats-server's pid file, to SIGHUP it after writing --nats-auth-file (DROVER_NATS_PID_FILE)",
    env.DROVER_NATS_PID_FILE,
  )
  .option(
    '--nats-monitor-key <key...>',
    'public nkeys (U…) allowed to monitor: read events and $SRV (DROVER_NATS_MONITOR_KEYS, comma list)',
    env.DROVER_NATS_MONITOR_KEYS?.split(',')
      .map((k) => k.trim())
      .filter(Boolean),
  )
  .addOption(
    new Option(
      '--database <url>',
      'Postgres URL (DROVER_DATABASE_URL or DROVER_DATABASE_URL_FILE; a password in a flag shows in `ps`)',
    ),
  )
  .option('--http-host <host>', 'HTTP API host (DROVER_HTTP_HOST)', env.DROVER_HTTP_HOST)
  .option(
    '--http-allowed-hosts <names>',
    'comma list of Host names the API answers to besides localhost when on loopback, e.g. behind a proxy (DROVER_HTTP_ALLOWED_HOSTS)',
    env.DROVER_HTTP_ALLOWED_HOSTS,
  )
  .addOption(
    new Option('--http-port <port>', 'HTTP API port, 0 for any')
      .env('DROVER_HTTP_PORT')
      .argParser(integerIn(0, 65_535)),
  )
  .option(
    '--console-dir <dir>',
    "folder of the web console's built files, served under / (DROVER_CONSOLE_DIR; default: @drover/console's dist)",
    env.DROVER_CONSOLE_DIR,
  )
  .option(
    '--server-id <id>',
    'name of this server in logs (DROVER_SERVER_ID)',
    env.DROVER_SERVER_ID,
  )
  .addOption(
    new Option('--log-level <level>', 'pino level').env('DROVER_LOG_LEVEL').choices(LOG_LEVELS),
  )
  // A bad flag or variable: one line naming it, exit 2 (not a stack trace, not the help).
  .configureOutput({ outputError: (text, write) => write(`drover-server: ${text}`) })
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
// An empty variable counts as unset (`DROVER_HTTP_PORT= drover-server`), as before.
for (const o of program.options) if (o.envVar && env[o.envVar] === '') delete env[o.envVar];
program.parse();
const flags = program.opts<Record<string, string | number | boolean | string[] | undefined>>();
const text = (flag: string) => (typeof flags[flag] === 'string' ? flags[flag] : undefined);

const nkeyFile = text('natsNkeyFile');
const authFile = text('natsAuthFile');
const pidFile = text('natsPidFile');
if (Boolean(authFile) !== Boolean(pidFile)) {
  console.error('drover-server: --nats-auth-file and --nats-pid-file go together');
  process.exit(2);
}
let natsNkeySeed: Uint8Array | undefined;
if (nkeyFile) {
  try {
    natsNkeySeed = await readNkeySeedFile(nkeyFile);
  } catch (err) {
    console.error(`drover-server: ${(err as Error).message}`);
    process.exit(2);
  }
}

/** The secrets, from NAME or NAME_FILE; a URL with a password given as a flag still works, with a warning. */
function secrets() {
  const fromArgv = (flag: string, url: string | number | undefined, instead: string) => {
    if (
      typeof url === 'string' &&
      program.getOptionValueSource(flag) === 'cli' &&
      /\/\/[^/@]*:[^/@]*@/.test(url)
    )
      warnSecretInArgv(`--${flag} with a password`, instead);
    return typeof url === 'string' ? url : undefined;
  };
  return {
    natsUrl: fromArgv(
      'nats',
      text('nats'),
      '--nats-user with DROVER_NATS_PASS or DROVER_NATS_PASS_FILE',
    ),
    databaseUrl:
      fromArgv('database', text('database'), 'DROVER_DATABASE_URL or DROVER_DATABASE_URL_FILE') ??
      envSecret('DROVER_DATABASE_URL'),
    natsPass: envSecret('DROVER_NATS_PASS'),
    adminToken: envSecret('DROVER_ADMIN_TOKEN'),
  };
}
let given: ReturnType<typeof secrets>;
try {
  given = secrets();
} catch (err) {
  if (!(err instanceof SecretSettingError)) throw err;
  console.error(`drover-server: invalid settings\n${err.message}`);
  process.exit(2);
}

const parsed = ServerConfig.safeParse({
  natsUrl: given.natsUrl,
  natsUser: flags.natsUser,
  natsPass: given.natsPass,
  adminToken: given.adminToken,
  databaseUrl: given.databaseUrl,
  natsNkeySeed,
  insecureNats: flags.insecureNats === true,
  natsAuth: authFile && pidFile ? { file: authFile, reload: reloadByPidFile(pidFile) } : undefined,
  natsMonitorKeys: flags.natsMonitorKey,
  httpHost: flags.httpHost,
  httpPort: flags.httpPort,
  httpAllowedHosts: commaList(text('httpAllowedHosts')),
  serverId: flags.serverId,
  consoleDir: text('consoleDir'),
  logLevel: flags.logLevel,
});
if (!parsed.success) {
  for (const issue of parsed.error.issues) {
    const key = String(issue.path[0] ?? '');
    const named = SETTING_NAMES[key] ? `${SETTING_NAMES[key]} (${key})` : key;
    console.error(`drover-server: invalid setting ${named}: ${issue.message}`);
  }
  process.exit(2);
}
const config = parsed.data;
const log = pino({
  level: config.logLevel,
  redact: ['natsPass', 'natsNkeySeed', 'seed', 'adminToken', 'secret', 'req.headers.authorization'],
});
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
if (nkeyFile) await warnIfSeedFileShared(nkeyFile, log);

const server = await startServer(config, log);
// Running against an open NATS is a choice the operator makes, not a state to wait out.
server.ready.catch((err: unknown) => {
  if (!(err instanceof NatsNotSecuredError)) return;
  console.error(`drover-server: ${err.message}`);
  void server.stop().finally(() => process.exit(4));
});
log.info({ http: server.url }, 'drover-server listening');
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'unclean stop');
        process.exit(1);
      },
    );
  });
}
