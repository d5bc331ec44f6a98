import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './write-file-atomic.js';

// What `drover up` keeps in its data dir besides Postgres's files: the app's
// credentials and the server's admin token (kept across restarts) and where the running cluster answers (so
// `drover …` commands find it with no flags), both readable by the owner only
// (an --nats URL may carry credentials), both written atomically.

const Credentials = z.object({ app: z.string(), secret: z.string() });
const ClusterInfo = z.object({
  serverUrl: z.string(),
  natsUrl: z.string(),
  app: z.string(),
  /** The nkey seed files a separate worker of the app, and `drover monitor`, connect with. */
  workerNkeyFile: z.string().optional(),
  monitorNkeyFile: z.string().optional(),
  /** `drover up --nats <url> --insecure-nats`: its NATS has no authentication. */
  insecureNats: z.boolean().optional(),
});
export type Credentials = z.output<typeof Credentials>;
export type ClusterInfo = z.output<typeof ClusterInfo>;

export const credentialsFile = (dataDir: string) => join(dataDir, 'credentials.json');
const clusterFile = (dataDir: string) => join(dataDir, 'cluster.json');
export const adminTokenFile = (dataDir: string) => join(dataDir, 'admin-token');

async function readJson<T>(file: string, schema: z.ZodType<T>): Promise<T | undefined> {
  try {
    return schema.parse(JSON.parse(await readFile(file, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file} is damaged: ${(err as Error).message}`);
  }
}

/** New credentials for `app` (a random secret), not yet written. */
export const newCredentials = (app: string): Credentials => ({
  app,
  secret: randomBytes(24).toString('base64url'),
});

export async function writeCredentials(dataDir: string, credentials: Credentials): Promise<void> {
  await writeFileAtomic(credentialsFile(dataDir), JSON.stringify(credentials, null, 2), 0o600);
}

export function readCredentials(dataDir: string): Promise<Credentials | undefined> {
  return readJson(credentialsFile(dataDir), Credentials);
}

/** The admin token of `drover up`'s server, or undefined before the first `up`. */
export async function readAdminToken(dataDir: string): Promise<string | undefined> {
  try {
    return (await readFile(adminTokenFile(dataDir), 'utf8')).trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The admin token of `drover up`'s server: made (random, 0600) at the first start, then kept. */
export async function loadOrCreateAdminToken(dataDir: string): Promise<string> {
  const known = await readAdminToken(dataDir);
  if (known) return known;
  const created = randomBytes(32).toString('base64url');
  await writeFileAtomic(adminTokenFile(dataDir), created, 0o600);
  return created;
}

export async function writeClusterInfo(dataDir: string, info: ClusterInfo): Promise<void> {
  await writeFileAtomic(clusterFile(dataDir), JSON.stringify(info, null, 2), 0o600);
}

export function readClusterInfo(dataDir: string): Promise<ClusterInfo | undefined> {
  return readJson(clusterFile(dataDir), ClusterInfo);
}

export async function removeClusterInfo(dataDir: string): Promise<void> {
  await rm(clusterFile(dataDir), { force: true });
}
