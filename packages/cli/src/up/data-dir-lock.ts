import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { bootId, isAlive, processStartTime, stopStrayChild } from './process-identity.js';

// One `drover up` per data dir. The lock file says who holds it (pid, the
// pid's start time so a reused pid is not taken for the holder, the kernel's
// boot id so a lock from before a reboot or container restart is stale, host
// for messages) and the children it spawned, so whoever finds the lock stale
// can end them.

const Child = z.object({ pid: z.number().int().positive(), startTime: z.string().optional() });
const Holder = z.object({
  pid: z.number().int().positive(),
  /** `/proc/<pid>/stat` field 22 (Linux), absent elsewhere. */
  pidStartTime: z.string().optional(),
  host: z.string(),
  /** `/proc/sys/kernel/random/boot_id` (Linux): another boot means the holder is gone. */
  bootId: z.string().optional(),
  /** Random, per acquirer: tells two holders apart even in one process. */
  token: z.string().optional(),
  startedAt: z.number(),
  children: z.array(Child),
});
export type LockHolder = z.output<typeof Holder>;

export const lockFile = (dataDir: string) => join(dataDir, 'drover-up.lock');
/** Names a holder in a guard's file name. */
const holderId = (h: LockHolder | undefined) =>
  h ? (h.token ?? `${h.pid}-${h.startedAt}`) : 'unreadable';
/** The guard for recovering the stale lock of `chain[0]` (then for each dead recoverer of it). */
export const recoveryFile = (dataDir: string, chain: string[]) =>
  join(dataDir, `drover-up.lock.recovering.${chain.join('.')}`);

/** Another live `drover up` holds the data dir. */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
  constructor(
    dataDir: string,
    readonly holder: LockHolder,
  ) {
    const file = lockFile(dataDir);
    super(
      `data dir ${dataDir} is in use by drover up (pid ${holder.pid}` +
        `${holder.host === hostname() ? '' : ` on ${holder.host}`}, started ${new Date(holder.startedAt).toISOString()}); ` +
        `lock file ${file}: if you know that process is gone, remove it (rm ${file}) and start again`,
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

/**
 * True when the holder is a live process of this boot (and the very process
 * that wrote it). A lock from another boot is stale whatever its host (a
 * container gets a new hostname on each start); without boot ids (not Linux)
 * another host's holder is assumed alive.
 */
export async function holderAlive(holder: LockHolder): Promise<boolean> {
  const boot = await bootId();
  if (holder.bootId !== undefined && boot !== undefined) {
    if (holder.bootId !== boot) return false;
  } else if (holder.host !== hostname()) return true;
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
    bootId: await bootId(),
    token: randomBytes(8).toString('hex'),
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
      if (held && sameHolder(held, me)) await unlink(file).catch(() => undefined);
    },
  };
}

/**
 * Replaces a stale lock with ours. Two recoverers may find the same stale
 * lock: only the one that creates its recovery guard (`link`, atomic) goes on;
 * it re-reads the lock to confirm it is still the stale one, renames its own
 * over it, and reads it back (failing unless it is ours); the others find a
 * live holder and fail. A guard is never removed while another may be taking
 * it: if a recoverer died holding one, the next guard is named after that dead
 * recoverer too, so again exactly one of those who found it dead goes on. If
 * two still slipped through, Postgres's own postmaster.pid refuses a second
 * postmaster on the same data directory, so the data is not opened twice.
 */
async function recover(
  dataDir: string,
  stale: LockHolder | undefined,
  me: LockHolder,
  log: Logger,
): Promise<void> {
  const guards = await takeGuard(dataDir, stale, me);
  let recovered = false;
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
    const after = await readHolder(lockFile(dataDir));
    if (!after || !sameHolder(after, me)) throw new DataDirInUseError(dataDir, after ?? me);
    recovered = true;
  } finally {
    // Ours always; the dead recoverers' ones too once the stale lock they guarded is gone.
    for (const guard of recovered ? guards : guards.slice(-1))
      await unlink(guard).catch(() => undefined);
  }
}

/** Takes the guard for `stale` (or for its dead recoverers); returns the guards along the way, ours last. */
async function takeGuard(
  dataDir: string,
  stale: LockHolder | undefined,
  me: LockHolder,
): Promise<string[]> {
  const chain = [holderId(stale)];
  const guards: string[] = [];
  for (;;) {
    const guard = recoveryFile(dataDir, chain);
    guards.push(guard);
    if (await createExclusive(guard, me)) return guards;
    const other = await readHolder(guard);
    if (other && (await holderAlive(other))) throw new DataDirInUseError(dataDir, other);
    chain.push(holderId(other));
  }
}

const sameHolder = (a: LockHolder, b: LockHolder | undefined) =>
  b !== undefined &&
  a.pid === b.pid &&
  a.startedAt === b.startedAt &&
  a.host === b.host &&
  a.token === b.token;

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
