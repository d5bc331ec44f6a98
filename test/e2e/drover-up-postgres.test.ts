import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { npmBinDir } from '../../packages/cli/src/up/postgres-binaries.js';
import { runCli } from '../harness/drover-cli.js';
import { instanceWhere, startUp, type UpProcess } from '../harness/drover-up.js';
import { stopProcess } from '../harness/process.js';

// Which Postgres `drover up` runs, and the clear words when it cannot: the
// npm package's binaries (forced here, since this machine has its own), a
// data dir from a newer Postgres or a newer Drover, a full disk, and (as
// root) a Postgres user that is missing or cannot reach the data dir.

const dirs: string[] = [];
const mounts: string[] = [];
const running: UpProcess[] = [];
const tempDir = async (prefix: string) => {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
const upFails = (dataDir: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  runCli(['--data-dir', dataDir, 'up', '--port', '0', '--workers', '0', ...args], env);

afterAll(async () => {
  await Promise.all(running.map((u) => stopProcess(u.proc, 'SIGKILL')));
  for (const mount of mounts) execFileSync('umount', [mount]);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function runHelloOn(u: UpProcess, name: string) {
  const job = await u.api.post('/jobs', {
    name: `hello-${name}`,
    processorName: 'hello',
    timeExpressionType: 'API',
  });
  expect(job.status).toBe(201);
  const run = await u.api.post(`/jobs/${job.body.id}/run`, { params: { name } });
  expect(run.status).toBe(202);
  return instanceWhere(u.api, run.body.id, (i) => i.status === 'SUCCEEDED', 30_000);
}

describe('drover up’s Postgres', () => {
  it('runs on the npm package’s binaries, reopens with that major, and refuses a schema from a newer Drover', async () => {
    const npm = await npmBinDir();
    expect(npm).toBeDefined();
    const dataDir = await tempDir('drover-up-npm-');
    const first = await startUp(dataDir, [], { DROVER_POSTGRES_BIN: npm });
    running.push(first);
    const banner = first.proc.find(/Postgres\s+(.+)$/);
    expect(banner).toBe(`PostgreSQL 17.10 (${npm}), data in ${join(dataDir, 'pgdata')}`);
    await runHelloOn(first, 'npm');
    first.proc.child.kill('SIGINT');
    expect(await first.proc.exited).toBe(0);

    // No flag: a 17 data dir is opened with 17 binaries, whichever come first otherwise.
    const second = await startUp(dataDir);
    running.push(second);
    expect(second.proc.find(/Postgres\s+(.+)$/)).toMatch(/^PostgreSQL 17\.\d+ \(/);
    const listed = await second.api.get('/jobs?limit=100');
    expect(listed.body.jobs.map((j: { spec: { name: string } }) => j.spec.name)).toEqual([
      'hello-npm',
    ]);

    // A newer Drover migrated this database: the next start names its migration.
    const port = (await readFile(join(dataDir, 'pgdata', 'postmaster.pid'), 'utf8')).split('\n')[3];
    const password = (await readFile(join(dataDir, 'postgres-password'), 'utf8')).trim();
    const sql = new pg.Client({
      connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    });
    await sql.connect();
    await sql.query("INSERT INTO drover_migrations (name) VALUES ('9999_from_the_future.sql')");
    await sql.end();
    second.proc.child.kill('SIGINT');
    expect(await second.proc.exited).toBe(0);
    const refused = await upFails(dataDir);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain(
      'the database was migrated by a newer Drover: migration 9999_from_the_future.sql is unknown to this build',
    );
  }, 120_000);

  it('accepts only local clients with its password: loopback only, no socket, scram everywhere', async () => {
    const dataDir = await tempDir('drover-up-pg-auth-');
    const u = await startUp(dataDir, ['--workers', '0']);
    running.push(u);
    const port = Number(
      (await readFile(join(dataDir, 'pgdata', 'postmaster.pid'), 'utf8')).split('\n')[3],
    );
    const password = (await readFile(join(dataDir, 'postgres-password'), 'utf8')).trim();
    const connectAs = async (pw: string, host = '127.0.0.1') => {
      const client = new pg.Client({
        host,
        port,
        user: 'postgres',
        password: pw,
        database: 'postgres',
      });
      try {
        await client.connect();
        return await client.query<{ setting: string; name: string }>(
          `SELECT name, setting FROM pg_settings
           WHERE name IN ('listen_addresses', 'unix_socket_directories', 'password_encryption')`,
        );
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    // A wrong password is refused by the server (not the client): 28P01.
    await expect(connectAs('not-the-password')).rejects.toMatchObject({ code: '28P01' });
    const settings = await connectAs(password);
    expect(Object.fromEntries(settings.rows.map((r) => [r.name, r.setting]))).toEqual({
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
      password_encryption: 'scram-sha-256',
    });
    // Every rule asks for the password: no trust, peer or md5 line.
    const hba = (await readFile(join(dataDir, 'pgdata', 'pg_hba.conf'), 'utf8'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(hba.length).toBeGreaterThan(0);
    for (const rule of hba) expect(rule).toMatch(/\sscram-sha-256$/);
    // Not reachable on this host's other addresses.
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (external)
      await expect(connectAs(password, external)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    u.proc.child.kill('SIGINT');
    expect(await u.proc.exited).toBe(0);
  }, 120_000);

  it('says which Postgres to install for a data dir from a newer major', async () => {
    const dataDir = await tempDir('drover-up-newer-');
    await mkdir(join(dataDir, 'pgdata'));
    await writeFile(join(dataDir, 'pgdata', 'PG_VERSION'), '99\n');
    const result = await upFails(dataDir);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(
      /pgdata was created by PostgreSQL 99; found PostgreSQL \d+\.\d+ at \S+.*; install PostgreSQL 99 or use --postgres-bin/,
    );
    // Nothing of it was touched.
    expect(await readFile(join(dataDir, 'pgdata', 'PG_VERSION'), 'utf8')).toBe('99\n');
  });

  it('says the disk is full when initdb runs out of space', async () => {
    // A real full disk: a 16 MB tmpfs (a new cluster needs about 40 MB).
    const mount = await tempDir('drover-up-full-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0755', 'tmpfs', mount]);
    mounts.push(mount);
    const dataDir = join(mount, 'data');
    const result = await upFails(dataDir);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(`disk full under ${dataDir}`);
  });

  it('as root, names a Postgres user that does not exist or cannot reach the data dir', async () => {
    expect(process.getuid?.()).toBe(0); // this machine and CI run as root: the case to cover
    const dataDir = await tempDir('drover-up-user-');
    const missing = await upFails(dataDir, [], { DROVER_POSTGRES_USER: 'no-such-drover-user' });
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain(
      'Postgres refuses to run as root, so drover up runs it as the user "no-such-drover-user", which does not exist',
    );

    // mkdtemp makes a 0700 folder: the postgres user cannot pass through it.
    const closed = join(await tempDir('drover-up-closed-'), 'data');
    const unreachable = await upFails(closed);
    expect(unreachable.code).toBe(5);
    expect(unreachable.stderr).toContain(
      `Postgres runs as the user "postgres" (it refuses root), and that user cannot reach the data dir ${closed}`,
    );
  });
});
