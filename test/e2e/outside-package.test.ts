import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';
import { type ReadyProcess, runToEnd, spawnReady, stopProcess } from '../harness/process.js';

// A user's own project, outside this repository: the packages as
// `scripts/pack.sh` packs them, installed with plain npm (zod 3.25 as the
// user's zod), a TypeScript processor module type-checked with tsc against
// the installed types, run by the INSTALLED drover-worker bin against a real
// cluster.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

/** What a processor author and a service install (the server and CLI are packed and checked, not installed). */
const SDK = ['protocol', 'transport', 'worker', 'client'];

const PROCESSORS_TS = `
import { z } from 'zod';
import { basicProcessor, type DroverLogger, type Processor } from '@drover/worker';

// zod 3 in the user's own code (zod 3.25's root export is the v3 API), as
// the processor's params schema: the worker checks params with it.
const Order = z.object({
  items: z.array(z.object({ price: z.number(), qty: z.number().int().default(1) })),
});

export const orderTotal: Processor = basicProcessor({
  name: 'order-total',
  params: Order,
  process: (ctx) => {
    const total: number = ctx.params.items.reduce((sum, item) => sum + item.price * item.qty, 0);
    return \`total \${total}\`;
  },
});

// A worker embedded without pino: any object with these methods will do.
export const quiet: DroverLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => quiet,
};
`;

/** The user's service: runs the job through the installed client and prints the final instance. */
const SERVICE_TS = `
import { DroverApiError, DroverClient, type Instance } from '@drover/client';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(\`\${name} is not set\`);
  return value;
};
const client = new DroverClient({
  url: env('DROVER_URL'),
  app: env('DROVER_APP'),
  secret: env('DROVER_SECRET'),
});
try {
  const job = await client.createJob({
    name: env('JOB_NAME'),
    processorName: 'order-total',
    timeExpressionType: 'API',
  });
  const run = await client.runJob(job.id, {
    params: { items: [{ price: 3, qty: 2 }, { price: 10 }] },
  });
  const done: Instance = await client.waitForInstance(run.id, { timeoutMs: 30_000 });
  console.log(JSON.stringify(done));
} catch (err) {
  if (err instanceof DroverApiError) console.error(err.code, err.status, err.issues);
  throw err;
}
`;

/** Wrong against the installed types: proves tsc really checks them (no \`any\` slipping through). */
const WRONG_TS = `
import type { Processor } from '@drover/worker';
export const wrong: Processor = { kind: 'basic', name: 42, process: () => 'x' };
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    types: ['node'],
  },
};

const db = useDatabase();
let packDir: string;
let project: string;
let cluster: DroverCluster | undefined;
let worker: ReadyProcess | undefined;

/** The workspace's tsc on the user's project: resolution happens in the project's node_modules. */
const tsc = () =>
  runToEnd(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', project], {
    cwd: project,
    timeoutMs: 290_000,
  });

beforeAll(async () => {
  packDir = await mkdtemp(join(tmpdir(), 'drover-pack-'));
  project = await mkdtemp(join(tmpdir(), 'drover-user-project-'));
  await run('bash', [`${ROOT}scripts/pack.sh`, packDir], { cwd: ROOT });
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'my-processors', private: true, type: 'module' }),
  );
  const tarballs = SDK.map((p) => join(packDir, `drover-${p}-0.1.0.tgz`));
  await run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...tarballs,
      'zod@3.25',
      '@types/node@20',
    ],
    { cwd: project },
  );
  await writeFile(join(project, 'processors.ts'), PROCESSORS_TS);
  await writeFile(join(project, 'service.ts'), SERVICE_TS);
  await writeFile(join(project, 'wrong.ts'), WRONG_TS);
  await writeFile(
    join(project, 'tsconfig.json'),
    JSON.stringify({ ...TSCONFIG, files: ['processors.ts', 'service.ts', 'wrong.ts'] }),
  );
}, 600_000);

afterAll(async () => {
  if (worker) await stopProcess(worker, 'SIGKILL');
  await cluster?.stop();
  await rm(packDir, { recursive: true, force: true });
  await rm(project, { recursive: true, force: true });
});

describe('the packed packages, installed outside the workspace', () => {
  it('packs one tarball per public package, with README and LICENSE, pointing at dist only', async () => {
    const tarballs = (await readdir(packDir)).sort();
    const publicPackages = await publicWorkspacePackages();
    expect(publicPackages).toEqual(expect.arrayContaining([...SDK, 'server', 'cli']));
    expect(tarballs).toEqual(publicPackages.map((p) => `drover-${p}-0.1.0.tgz`));
    for (const tarball of tarballs) {
      const file = join(packDir, tarball);
      const { stdout: listing } = await run('tar', ['-tzf', file]);
      expect(listing.split('\n'), tarball).toEqual(
        expect.arrayContaining(['package/LICENSE', 'package/README.md', 'package/package.json']),
      );
      expect(listing, tarball).not.toMatch(/^package\/src\//m);
      // Source maps point at src/, which does not ship.
      expect(listing, tarball).not.toMatch(/\.map$/m);
      const { stdout } = await run('tar', ['-xzOf', file, 'package/package.json']);
      const manifest = JSON.parse(stdout);
      expect(manifest.private, tarball).toBeUndefined();
      expect(manifest.license, tarball).toBe('MIT');
      // Nothing a user's resolver or npm's bin linker follows may point at src/.
      const pointers = JSON.stringify([manifest.exports, manifest.bin, manifest.main ?? null]);
      expect(pointers, tarball).not.toMatch(/src\/|drover-source/);
      // The console's index.js names its built dist/ (static files, no module in it).
      expect(pointers, tarball).toMatch(
        tarball.startsWith('drover-console-') ? /\.\/index\.js/ : /\.\/dist\//,
      );
      expect(JSON.stringify(manifest.dependencies ?? {}), tarball).not.toContain('workspace:');
    }
  });

  it("gives the server the console's built files: the server depends on the console, whose consoleDir holds index.html", async () => {
    const manifestOf = async (name: string) =>
      JSON.parse(
        (
          await run('tar', [
            '-xzOf',
            join(packDir, `drover-${name}-0.1.0.tgz`),
            'package/package.json',
          ])
        ).stdout,
      );
    const server = await manifestOf('server');
    const consolePackage = await manifestOf('console');
    expect(server.dependencies['@drover/console']).toBe(consolePackage.version);
    expect(server.dependencies['@fastify/static']).toBeDefined();
    // Installed on its own (it has no dependencies), as npm installs it for the server.
    const dir = await mkdtemp(join(tmpdir(), 'drover-console-install-'));
    try {
      await writeFile(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
      await run(
        'npm',
        [
          'install',
          '--offline',
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
          join(packDir, 'drover-console-0.1.0.tgz'),
        ],
        { cwd: dir },
      );
      const { stdout } = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          "import { consoleDir } from '@drover/console'; import { readFileSync } from 'node:fs'; console.log(JSON.stringify({ consoleDir, index: readFileSync(consoleDir + 'index.html', 'utf8') }));",
        ],
        { cwd: dir },
      );
      const { consoleDir, index } = JSON.parse(stdout);
      expect(consoleDir.startsWith(join(dir, 'node_modules', '@drover', 'console'))).toBe(true);
      expect(index).toMatch(/<script type="module"[^>]* src="\/assets\/[^"]+\.js"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("type-checks a user's TypeScript processor module (zod 3 in its own code) and service against the installed types", async () => {
    // One tsc run (checking the installed declarations too, skipLibCheck off)
    // over the three modules: the only error is wrong.ts's.
    const checked = await tsc();
    const errors = checked.stdout.split('\n').filter((l) => l.includes('error TS'));
    expect(errors, checked.stdout + checked.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/^wrong\.ts\(3,\d+\): error TS2322/);
    expect(checked.code).toBe(2);
  }, 300_000);

  it('runs the module with the installed drover-worker bin against a cluster', async () => {
    cluster = await startDroverCluster(db.url);
    worker = await spawnReady(
      join(project, 'node_modules', '.bin', 'drover-worker'),
      ['--processors', './processors.ts', '--worker-id', uniqueName('outside')],
      {
        cwd: project,
        env: {
          ...process.env,
          DROVER_NATS_URL: cluster.nats.url,
          DROVER_NATS_NKEY_FILE: cluster.app.workerSeedFile,
          DROVER_APP: cluster.app.name,
          DROVER_LOG_LEVEL: 'info',
        },
        ready: /"msg":"drover-worker running"/,
        timeoutMs: 60_000,
      },
    );
    await cluster.untilWorkersAlive(1);
    // The user's service, run as they run TypeScript (tsx, a dependency of the worker).
    const service = await runToEnd(process.execPath, ['--import', 'tsx', 'service.ts'], {
      cwd: project,
      env: {
        ...process.env,
        DROVER_URL: cluster.serverUrl,
        DROVER_APP: cluster.app.name,
        DROVER_SECRET: cluster.app.secret,
        JOB_NAME: uniqueName('order'),
      },
      timeoutMs: 90_000,
    });
    expect(service.code, service.stderr).toBe(0);
    expect(JSON.parse(service.stdout)).toMatchObject({ status: 'SUCCEEDED', result: 'total 16' });
  }, 180_000);
});

/** The workspace's packages that are not private (their folder names, sorted). */
async function publicWorkspacePackages(): Promise<string[]> {
  const dirs = (await readdir(join(ROOT, 'packages'))).sort();
  const found = await Promise.all(
    dirs.map(async (dir) => {
      const text = await readFile(join(ROOT, 'packages', dir, 'package.json'), 'utf8');
      return JSON.parse(text).private === true ? [] : [dir];
    }),
  );
  return found.flat();
}
