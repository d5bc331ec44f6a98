#!/usr/bin/env node
import { resolve } from 'node:path';
import { SecretSettingError } from '@drover/transport';
import { Command } from 'commander';
import { CliError, Exit } from './client/exit-codes.js';
import { appCommands } from './commands/app.js';
import { DEFAULT_DATA_DIR, type GlobalOptions } from './commands/context.js';
import { envCommand } from './commands/env.js';
import { instanceCommands } from './commands/instance.js';
import { jobCommands } from './commands/job.js';
import { monitorCommand } from './commands/monitor.js';
import { upCommand } from './commands/up.js';
import { workerCommands } from './commands/worker.js';

// `drover … | head` closes stdout early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const program = new Command('drover')
  .description('Drover: run a cluster (`drover up`) and operate it')
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
  .showHelpAfterError()
  .exitOverride();

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
monitorCommand(program, globals);

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof SecretSettingError) {
    console.error(`drover: ${err.message}`);
    process.exitCode = Exit.USAGE;
  } else if (err instanceof CliError) {
    console.error(`drover: ${err.message}`);
    process.exitCode = err.exitCode;
  } else if (err && typeof err === 'object' && 'exitCode' in err && 'code' in err) {
    // commander already printed what was wrong with the command line
    const { exitCode, code } = err as { exitCode: number; code: string };
    process.exitCode =
      code === 'commander.helpDisplayed' || code === 'commander.version' ? exitCode : Exit.USAGE;
  } else {
    console.error(`drover: ${(err as Error).message ?? String(err)}`);
    process.exitCode = Exit.SERVER_ERROR;
  }
}
