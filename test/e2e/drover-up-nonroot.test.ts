import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmBinDir } from '../../packages/cli/src/up/postgres-binaries.js';
import { createAndRunJob, runCli } from '../harness/drover-cli.js';
import { startUp, type UpProcess } from '../harness/drover-up.js';
import { stopProcess } from '../harness/process.js';
import { commandLine, descendants } from '../harness/process-tree.js';

// `drover up` as an unprivileged user, the way most people run it: the CLI
// from source (tsx, whose cache must be writable by that user), Postgres run
// as that same user (no user switch: only root switches), and the user's own
// .ts processors in processor threads; with the machine's Postgres and with
// the npm package's (in a node_modules that user cannot write). As root the
// test becomes `nobody`; otherwise it already is a user without privileges.

const NOBODY = 65534;
const user =
  process.getuid?.() === 0
    ? { uid: NOBODY, gid: NOBODY }
    : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };

const PROCESSORS_TS = `
import { isMainThread } from 'node:worker_threads';
import type { Processor } from '@drover/worker';

interface WhoParams {
  greeting: string;
}
export const whoami: Processor = {
  kind: 'basic',
  name: 'whoami',
  process: (ctx) =>
    \`\${(ctx.params as WhoParams).greeting} from uid \${process.getuid?.()} in \${isMainThread ? 'the main thread' : 'a processor thread'}\`,
};
`;

let base: string;
let home: string;
let up: UpProcess | undefined;
const asUser = { user };

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'drover-up-nonroot-'));
  await chmod(base, 0o755); // mkdtemp's 0700 would keep the user out
  home = join(base, 'home');
  for (const dir of ['data-machine', 'data-npm', 'home', 'code'].map((d) => join(base, d))) {
    await mkdir(dir);
    await chown(dir, user.uid, user.gid);
  }
  await writeFile(join(base, 'code', 'processors.ts'), PROCESSORS_TS);
});
afterAll(async () => {
  if (up) await stopProcess(up.proc, 'SIGKILL');
  await rm(base, { recursive: true, force: true });
});

describe('drover up as an unprivileged user', () => {
  it.each([
    ['machine', async () => ({})],
    ['npm', async () => ({ DROVER_POSTGRES_BIN: (await npmBinDir()) as string })],
  ])(
    'runs the %s Postgres as that user and a .ts processor in a processor thread',
    async (binaries, env) => {
      const dataDir = join(base, `data-${binaries}`);
      const drover = (...args: string[]) =>
        runCli(['--data-dir', dataDir, ...args], { HOME: home }, asUser);
      up = await startUp(
        dataDir,
        ['--processors', join(base, 'code', 'processors.ts')],
        { HOME: home, ...(await env()) },
        asUser,
      );
      expect(up.proc.find(/Postgres\s+(.+)/)).toContain(
        binaries === 'npm' ? 'node_modules' : '/usr/',
      );
      expect(up.proc.find(/processors\s+(.+)/)).toContain('whoami');

      // Postgres is a child (through setpriv, or not) of `drover up`, as the same user.
      const pid = up.proc.child.pid as number;
      const postgres = descendants(pid).filter((p) => /(^|\/)postgres\b/.test(commandLine(p)));
      expect(postgres.length).toBeGreaterThan(0);
      for (const p of postgres) expect((await stat(`/proc/${p}`)).uid).toBe(user.uid);
      expect((await stat(join(dataDir, 'pgdata'))).uid).toBe(user.uid);

      const run = await createAndRunJob(drover, {
        name: 'who',
        processor: 'whoami',
        execute: 'STANDALONE',
        params: { greeting: 'hello' },
      });
      expect(run).toMatchObject({
        status: 'SUCCEEDED',
        result: `hello from uid ${user.uid} in a processor thread`,
      });

      await stopProcess(up.proc, 'SIGINT');
      expect(await up.proc.exited).toBe(0);
      up = undefined;
    },
  );
});
