#!/usr/bin/env node
import { resolve } from 'node:path';
import { DROVER_VERSION } from '@drover/protocol';
import { SecretSettingError } from '@drover/transport';
import { Command } from 'commander';
import { CliError, type CliIssue, Exit, errorCodeOf } from './client/exit-codes.js';
import { appCommands } from './commands/app.js';
import { DEFAULT_DATA_DIR, type GlobalOptions } from './commands/context.js';
import { envCommand } from './commands/env.js';
import { instanceCommands } from './commands/instance.js';
import { jobCommands } from './commands/job.js';
import { monitorCommand } from './commands/monitor.js';
import { upCommand } from './commands/up.js';
import { workerCommands } from './commands/worker.js';
import { workflowCommands } from './commands/workflow.js';

// `drover … | head` closes stdout early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

// Known before commander parses: an error in parsing must already come out as JSON.
const args = process.argv.slice(2);
const jsonOutput = args
  .slice(0, args.includes('--') ? args.indexOf('--') : undefined)
  .includes('--json');

/**
 * An error for the user: one `drover: …` message on stderr, or under --json
 * the API's `{error:{code,message,issues}}` envelope on stdout; the exit code either way.
 */
function fail(message: string, exitCode: number, issues: CliIssue[] = [], code?: string): void {
  if (jsonOutput) {
    const error = { code: code ?? errorCodeOf(exitCode), message, issues };
    process.stdout.write(`${JSON.stringify({ error }, null, 2)}\n`);
  } else {
    console.error(`drover: ${message}`);
  }
  process.exitCode = exitCode;
}

const program = new Command('drover')
  .description('Drover: run a cluster (`drover up`) and operate it')
  .version(DROVER_VERSION, '-V, --version', 'print the Drover version')
  .option('--server <url>', 'server API (DROVER_SERVER_URL; default: the running `drover up`)')
  .option('--app <name>', 'app (DROVER_APP; default: the `drover up` app)')
  .option(
    '--secret <secret>',
    'app secret; prefer DROVER_APP_SECRET or DROVER_APP_SECRET_FILE, flags show in `ps`',
  )
  .option(
    '--data-dir <dir>',
    'where `drover up` keeps its data (DROVER_DATA_DIR)',
    DEFAULT_DATA_DIR,
  )
  .option('--json', 'machine-readable output')
  .addHelpText(
    'after',
    `
Exit codes: ${Exit.OK} ok, ${Exit.RUN_FAILED} the awaited run did not succeed, ${Exit.USAGE} bad input,
${Exit.NOT_FOUND} not found, ${Exit.UNAUTHORIZED} secret refused, ${Exit.UNAVAILABLE} server unreachable, ${Exit.SERVER_ERROR} server error.`,
  )
  .exitOverride()
  .configureOutput({
    // Commander's own errors (unknown option, bad flag value) in the --json envelope too.
    outputError: (text, write) => {
      if (!jsonOutput) return write(text);
      const message = text.trim().replace(/^error: /, '');
      const flag = /option '(-[^ ',]+)/.exec(message)?.[1];
      fail(message, Exit.USAGE, flag ? [{ path: flag, message }] : []);
    },
  });
// One line pointing at --help, not the whole help after the error (30 lines for `up`).
if (!jsonOutput) program.showHelpAfterError('(add --help for the usage)');

// The data dir as an absolute path: messages and the banner name the folder meant.
const globals = (): GlobalOptions => {
  const opts = program.opts<GlobalOptions>();
  return { ...opts, dataDir: resolve(opts.dataDir) };
};
upCommand(program, globals);
envCommand(program, globals);
appCommands(program, globals);
jobCommands(program, globals);
instanceCommands(program, globals);
workerCommands(program, globals);
workflowCommands(program, globals);
monitorCommand(program, globals);

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof SecretSettingError) {
    fail(err.message, Exit.USAGE);
  } else if (err instanceof CliError) {
    fail(err.message, err.exitCode, err.issues, err.code);
  } else if (err && typeof err === 'object' && 'exitCode' in err && 'code' in err) {
    // commander already printed what was wrong with the command line
    const { exitCode, code } = err as { exitCode: number; code: string };
    process.exitCode =
      code === 'commander.helpDisplayed' || code === 'commander.version' ? exitCode : Exit.USAGE;
  } else {
    fail((err as Error).message ?? String(err), Exit.SERVER_ERROR);
  }
}
