import { execFile } from 'node:child_process';
import { chown, lchown, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findSetpriv, type RunAs, setprivUserArgs } from './bound-child.js';

const execFileAsync = promisify(execFile);

// Postgres refuses to run as root. When `drover up` is root (containers, CI),
// initdb and postgres run as the `postgres` user, or the one named by
// DROVER_POSTGRES_USER, and the cluster's files belong to that user.

const DEFAULT_USER = 'postgres';

/** The user to run Postgres as, or undefined to run it as ourselves (not root). */
export async function postgresRunAs(
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const user = env.DROVER_POSTGRES_USER || DEFAULT_USER;
  try {
    const id = async (flag: string) =>
      Number((await execFileAsync('id', [flag, user], { encoding: 'utf8' })).stdout.trim());
    return { user, uid: await id('-u'), gid: await id('-g') };
  } catch {
    throw new Error(
      `Postgres refuses to run as root, so drover up runs it as the user "${user}", which does not exist: ` +
        'create it (`useradd --system --user-group --no-create-home postgres`) ' +
        'or name another user with DROVER_POSTGRES_USER',
    );
  }
}

/** Fails with a clear error unless `runAs` can reach `path` (search every parent, run a binary). */
export async function assertReachable(runAs: RunAs, path: string, what: string): Promise<void> {
  const setpriv = findSetpriv();
  const test = setpriv
    ? execFileAsync(setpriv, [...setprivUserArgs(runAs), '--', 'test', '-x', path])
    : execFileAsync('test', ['-x', path], { uid: runAs.uid, gid: runAs.gid });
  await test.catch(() => {
    throw new Error(
      `Postgres runs as the user "${runAs.user}" (it refuses root), and that user cannot reach the ${what} ${path}: ` +
        'use a directory that user can reach (e.g. --data-dir /var/lib/drover), ' +
        'open the parents to it (chmod o+x), or set DROVER_POSTGRES_USER',
    );
  });
}

/** Gives `dir` and everything in it to `runAs` unless it already belongs to that user. */
export async function giveTo(runAs: RunAs, dir: string): Promise<void> {
  if ((await stat(dir)).uid === runAs.uid) return;
  await chown(dir, runAs.uid, runAs.gid);
  for (const entry of await readdir(dir, { recursive: true })) {
    await lchown(join(dir, entry), runAs.uid, runAs.gid);
  }
}
