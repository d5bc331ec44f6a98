import { apiViews } from '@drover/server';
import type { Command } from 'commander';
import { ApiClient } from '../client/api-client.js';
import { CliError, Exit } from '../client/exit-codes.js';
import { type GlobalOptions, print, serverUrl } from './context.js';

export function appCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('app')
    .description('apps')
    .command('create <name>')
    .description('create an app; its secret is what its workers and API calls prove')
    .requiredOption('--new-secret <secret>', 'the app’s secret (at least 16 characters)')
    .option(
      '--admin-token <token>',
      'the server’s admin token, when it has one (DROVER_ADMIN_TOKEN)',
    )
    .action(async (name: string, o: { newSecret: string; adminToken?: string }) => {
      const g = globals();
      if (o.newSecret.length < 16)
        throw new CliError('--new-secret must be at least 16 characters', Exit.USAGE);
      const admin = new ApiClient(
        await serverUrl(g),
        o.adminToken ?? process.env.DROVER_ADMIN_TOKEN,
      );
      const app = await admin.call(apiViews.AppView, 'POST', '/apps', {
        name,
        secret: o.newSecret,
      });
      print({ json: g.json ?? false }, app, () => `app ${app.name} created`);
    });
}
