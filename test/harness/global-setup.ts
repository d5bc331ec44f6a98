import { availableParallelism } from 'node:os';
import type { TestProject } from 'vitest/node';
import { buildBinaries } from './built-binaries.js';
import { startNatsServer } from './nats-server.js';
import { startPostgres } from './postgres.js';
import { startGate } from './start-gate.js';
import { prepareTemplate, TEMPLATE_DB } from './template.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** One nats-server per worker slot (`VITEST_POOL_ID`): read it with `natsUrl()` (fixtures.ts). */
    natsUrls: string[];
    pgAdminUrl: string;
    pgTemplate: string;
    /** Where Drover processes from source wait for their turn to start (start-gate.ts). */
    startGatePort: number;
  }
}

// One Postgres cluster for the whole run (each file clones its own database),
// and one nats-server per worker slot: files run in parallel, and every
// in-process drover-server joins the servers' queue group on `drover.*.server.>`,
// so two files' servers on one NATS would take each other's heartbeats and
// reports. Files after one another in a slot share its NATS, as all files did
// when they ran one at a time. Set DROVER_TEST_NATS_URL / DROVER_TEST_PG_URL
// to use servers of your own (the Postgres role must be allowed to create
// databases); with your own NATS, run one file at a time (--maxWorkers=1).
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = {
    nats: process.env.DROVER_TEST_NATS_URL,
    pg: process.env.DROVER_TEST_PG_URL,
  };
  const slots = Math.max(1, project.config.maxWorkers);
  // The binaries are built here, once, before any file runs: one file's
  // `tsc -b` rewriting dist/ while another file runs it would run half-written
  // files. The files' own buildBinaries() then find dist/ up to date and write
  // nothing. A failed build (a type error while working) is theirs to report:
  // files not running dist/ still run.
  const built = buildBinaries(['cli', 'worker', 'server']).catch(() => undefined);
  const [nats, postgres] = await Promise.all([
    external.nats ? [] : Promise.all(Array.from({ length: slots }, () => startNatsServer())),
    external.pg ? undefined : startPostgres(),
  ]);
  await built;
  const natsUrls = external.nats
    ? Array.from({ length: slots }, () => external.nats as string)
    : nats.map((n) => n.url);
  const pgAdminUrl = external.pg ?? postgres?.adminUrl ?? '';
  await prepareTemplate(pgAdminUrl);
  project.provide('natsUrls', natsUrls);
  project.provide('pgAdminUrl', pgAdminUrl);
  project.provide('pgTemplate', TEMPLATE_DB);
  // As many starting at once as there are cores: a start is CPU-bound.
  const gate = await startGate(availableParallelism());
  project.provide('startGatePort', gate.port);
  return async () => {
    await Promise.all([...nats.map((n) => n.stop()), postgres?.stop(), gate.close()]);
  };
}
