import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { isAlive, processStartTime, stopStrayChild } from './process-identity.js';

// One `drover up` per data dir. The lock file says who holds it (pid, the
// pid's start time so a reused pid is not taken for the holder, host) and the
// children it spawned, so whoever finds the lock stale can end them.

const Child = z.object({ pid: z.number().int().positive(), startTime: z.string().optional() });
const Holder = z.object({
  pid: z.number().int().positive(),
  /** `/proc/<pid>/stat` field 22 (Linux), absent elsewhere. */
  pidStartTime: z.string().optional(),
  host: z.string(),
  startedAt: z.number(),
  children: z.array(Child),
});
export type LockHolder = z.output<typeof Holder>;

export const lockFile = (dataDir: string) => join(dataDir, 'drover-up.lock');
const recoveryFile = (dataDir: string) => join(dataDir, 'drover-up.lock.recovering');

/** Another live `drover up` holds the data dir. */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
  constructor(
    dataDir: string,
    readonly holder: LockHolder,
  ) {
    super(
      `data dir ${dataDir} is in use by drover up (pid ${holder.pid}` +
        `${holder.host === hostname() ? '' : ` on ${holder.host}`}, started ${new Date(holder.startedAt).toISOString()})`,
    );
  }
}

export interface DataDirLock {
  /** Records the children (nats-server, postgres) a later recoverer must end. */
  update(change: { children: number[] }): Promise<void>;
  /** Removes the lock if it is still ours (clean stop). */
  release(): Promise<void>;
}

/** Who holds the data dir's lock, if anyone does (stale or not). */
export async function readLockHolder(dataDir: string): Promise<LockHolder | undefined> {
  return readHolder(lockFile(dataDir));
}

/** True when the holder is a live process on this host (and the very process that wrote it). */
export async function holderAlive(holder: LockHolder): Promise<boolean> {
  if (holder.host !== hostname()) return true; // cannot tell: another host's process is assumed alive
  if (!isAlive(holder.pid)) return false;
  const start = await processStartTime(holder.pid);
  return holder.pidStartTime === undefined || start === undefined || start === holder.pidStartTime;
}

/**
 * Takes the data dir's lock, or throws DataDirInUseError naming the live
 * holder. A stale lock (holder dead, or its pid now another process) is
 * recovered: its recorded children still running are ended first.
 */
export async function acquireDataDirLock(dataDir: string, log: Logger): Promise<DataDirLock> {
  const me: LockHolder = {
    pid: process.pid,
    pidStartTime: await processStartTime(process.pid),
    host: hostname(),
    startedAt: Date.now(),
    children: [],
  };
  const file = lockFile(dataDir);
  if (!(await createExclusive(file, me))) {
    const held = await readHolder(file);
    if (held && (await holderAlive(held))) throw new DataDirInUseError(dataDir, held);
    await recover(dataDir, held, me, log);
  }
  return {
    async update({ children }) {
      me.children = await Promise.all(
        children.map(async (pid) => ({ pid, startTime: await processStartTime(pid) })),
      );
      await replace(file, me);
    },
    async release() {
      const held = await readHolder(file);
      if (held?.pid === me.pid && held.startedAt === me.startedAt)
        await unlink(file).catch(() => undefined);
    },
  };
}

/**
 * Replaces a stale lock with ours. Two recoverers may find the same stale
 * lock: only the one that creates the recovery file (`link`, atomic) goes on,
 * and it re-reads the lock to confirm it is still the stale one before
 * renaming its own over it; the other finds a live holder and fails. If both
 * still slipped through (a recoverer dying inside this window), Postgres's own
 * postmaster.pid refuses a second postmaster on the same data directory, so
 * the data is not opened twice.
 */
async function recover(
  dataDir: string,
  stale: LockHolder | undefined,
  me: LockHolder,
  log: Logger,
): Promise<void> {
  const guard = recoveryFile(dataDir);
  if (!(await createExclusive(guard, me))) {
    const other = await readHolder(guard);
    if (other && (await holderAlive(other))) throw new DataDirInUseError(dataDir, other);
    // A recoverer died mid-recovery: its guard is stale too.
    await unlink(guard).catch(() => undefined);
    if (!(await createExclusive(guard, me))) {
      throw new DataDirInUseError(dataDir, (await readHolder(guard)) ?? me);
    }
  }
  try {
    const now = await readHolder(lockFile(dataDir));
    if (now && !sameHolder(now, stale)) {
      if (await holderAlive(now)) throw new DataDirInUseError(dataDir, now);
    }
    const found = now ?? stale;
    log.warn(
      { dataDir, stalePid: found?.pid, children: found?.children.map((c) => c.pid) ?? [] },
      'recovering a stale drover up lock (its holder is gone)',
    );
    for (const child of found?.children ?? []) await stopStrayChild(child, dataDir, log);
    await replace(lockFile(dataDir), me);
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

const sameHolder = (a: LockHolder, b: LockHolder | undefined) =>
  b !== undefined && a.pid === b.pid && a.startedAt === b.startedAt && a.host === b.host;

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const parsed = Holder.safeParse(JSON.parse(await readFile(file, 'utf8')));
    return parsed.success ? parsed.data : undefined; // damaged: treated as stale
  } catch {
    return undefined;
  }
}

/** Creates `file` with `holder` in it, complete, or returns false if it exists. */
async function createExclusive(file: string, holder: LockHolder): Promise<boolean> {
  // Written aside then linked: a reader never sees a half-written lock.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temp, JSON.stringify(holder), { flag: 'wx' });
  try {
    await link(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** Replaces `file` atomically (rename over it). */
async function replace(file: string, holder: LockHolder): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temp, JSON.stringify(holder), { flag: 'wx' });
  await rename(temp, file);
}
