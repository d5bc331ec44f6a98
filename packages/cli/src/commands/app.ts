import { randomBytes } from 'node:crypto';
import { apiViews } from '@drover/protocol';
import { envSecret, warnSecretInArgv } from '@drover/transport';
import type { Command } from 'commander';
import { ApiClient } from '../client/api-client.js';
import { CliError, Exit } from '../client/exit-codes.js';
import { readAdminToken } from '../up/cluster-files.js';
import { type GlobalOptions, print, serverUrl } from './context.js';

// The server's rule for an app secret (POST /apps in packages/server), said before asking it.
const MIN_SECRET_LENGTH = 12;

/** The admin token: --admin-token (warned), DROVER_ADMIN_TOKEN(_FILE), or the running `drover up`'s. */
async function adminToken(flag: string | undefined, dataDir: string): Promise<string | undefined> {
  if (flag) {
    warnSecretInArgv('--admin-token', 'DROVER_ADMIN_TOKEN or DROVER_ADMIN_TOKEN_FILE');
    return flag;
  }
  return envSecret('DROVER_ADMIN_TOKEN') ?? (await readAdminToken(dataDir));
}

export function appCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('app')
    .description('apps')
    .command('create <name>')
    .description(
      'create an app (needs the admin token); its secret is what its workers and API calls prove',
    )
    .option(
      '--new-secret <secret>',
      `the app’s secret, at least ${MIN_SECRET_LENGTH} characters (default: a random one, printed once; flags show in \`ps\`)`,
    )
    .option(
      '--admin-token <token>',
      'the server’s admin token (prefer DROVER_ADMIN_TOKEN or DROVER_ADMIN_TOKEN_FILE; default: the running `drover up`’s)',
    )
    .action(async (name: string, o: { newSecret?: string; adminToken?: string }) => {
      const g = globals();
      if (o.newSecret !== undefined) {
        warnSecretInArgv('--new-secret', 'a generated secret (leave the flag out)');
        if (o.newSecret.length < MIN_SECRET_LENGTH)
          throw new CliError(
            `--new-secret must be at least ${MIN_SECRET_LENGTH} characters`,
            Exit.USAGE,
          );
      }
      const secret = o.newSecret ?? randomBytes(24).toString('base64url');
      const admin = new ApiClient(await serverUrl(g), await adminToken(o.adminToken, g.dataDir));
      const app = await admin.call(apiViews.AppView, 'POST', '/apps', { name, secret });
      // A generated secret is shown once: nothing else knows it.
      const shown = o.newSecret === undefined ? { ...app, secret } : app;
      print({ json: g.json ?? false }, shown, () =>
        o.newSecret === undefined
          ? `app ${app.name} created; its secret (shown once, keep it): ${secret}`
          : `app ${app.name} created`,
      );
    });
}
