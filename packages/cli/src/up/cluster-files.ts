import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

// What `drover up` keeps in its data dir besides Postgres's files: the app's
// credentials (kept across restarts, readable by the owner only) and where the
// running cluster answers (so `drover …` commands find it with no flags).

const Credentials = z.object({ app: z.string(), secret: z.string() });
const ClusterInfo = z.object({ serverUrl: z.string(), natsUrl: z.string(), app: z.string() });
export type Credentials = z.output<typeof Credentials>;
export type ClusterInfo = z.output<typeof ClusterInfo>;

const credentialsFile = (dataDir: string) => join(dataDir, 'credentials.json');
const clusterFile = (dataDir: string) => join(dataDir, 'cluster.json');

async function readJson<T>(file: string, schema: z.ZodType<T>): Promise<T | undefined> {
  try {
    return schema.parse(JSON.parse(await readFile(file, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file} is damaged: ${(err as Error).message}`);
  }
}

/** The app's credentials from an earlier `drover up`, or new ones. */
export async function loadOrCreateCredentials(dataDir: string, app: string): Promise<Credentials> {
  const known = await readJson(credentialsFile(dataDir), Credentials);
  if (known) return known;
  const created = { app, secret: randomBytes(24).toString('base64url') };
  await writeFile(credentialsFile(dataDir), JSON.stringify(created, null, 2), { mode: 0o600 });
  return created;
}

export function readCredentials(dataDir: string): Promise<Credentials | undefined> {
  return readJson(credentialsFile(dataDir), Credentials);
}

export async function writeClusterInfo(dataDir: string, info: ClusterInfo): Promise<void> {
  await writeFile(clusterFile(dataDir), JSON.stringify(info, null, 2));
}

export function readClusterInfo(dataDir: string): Promise<ClusterInfo | undefined> {
  return readJson(clusterFile(dataDir), ClusterInfo);
}

export async function removeClusterInfo(dataDir: string): Promise<void> {
  await rm(clusterFile(dataDir), { force: true });
}
