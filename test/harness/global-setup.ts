import type { TestProject } from 'vitest/node';
import { type NatsServer, startNatsServer } from './nats-server.js';
import { type PostgresServer, startPostgres } from './postgres.js';
import { prepareTemplate, TEMPLATE_DB } from './template.js';

declare module 'vitest' {
  export interface ProvidedContext {
    natsUrl: string;
    pgAdminUrl: string;
    pgTemplate: string;
  }
}

// One nats-server and one Postgres cluster for the whole run. Set
// DROVER_TEST_NATS_URL / DROVER_TEST_PG_URL to use servers of your own
// (the Postgres role must be allowed to create databases).
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = {
    nats: process.env.DROVER_TEST_NATS_URL,
    pg: process.env.DROVER_TEST_PG_URL,
  };
  const [nats, postgres] = (await Promise.all([
    external.nats ? undefined : startNatsServer(),
    external.pg ? undefined : startPostgres(),
  ])) as [NatsServer | undefined, PostgresServer | undefined];
  const natsUrl = external.nats ?? nats?.url ?? '';
  const pgAdminUrl = external.pg ?? postgres?.adminUrl ?? '';
  await prepareTemplate(pgAdminUrl);
  project.provide('natsUrl', natsUrl);
  project.provide('pgAdminUrl', pgAdminUrl);
  project.provide('pgTemplate', TEMPLATE_DB);
  return async () => {
    await Promise.all([nats?.stop(), postgres?.stop()]);
  };
}
