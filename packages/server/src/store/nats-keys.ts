import { nkeys } from '@nats-io/nats-core';
import type pg from 'pg';
import type { NatsKey } from '../nats-auth/nats-auth-config.js';

/** A new worker credential: the seed is shown once and never stored. */
export interface NewWorkerKey {
  publicKey: string;
  seed: string;
}

export interface WorkerKeyRow {
  publicKey: string;
  createdAt: number;
  revokedAt: number | null;
}

type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/** Records a server's or monitor's public key; already known keys stay as they are. */
export async function registerKey(
  db: Queryable,
  publicKey: string,
  role: 'server' | 'monitor',
): Promise<void> {
  await db.query(
    'INSERT INTO nats_keys (public_key, role) VALUES ($1, $2) ON CONFLICT (public_key) DO NOTHING',
    [publicKey, role],
  );
}

/** Creates a worker key pair for an app and records its public key. */
export async function addWorkerKey(db: Queryable, appId: string): Promise<NewWorkerKey> {
  const pair = nkeys.createUser();
  const publicKey = pair.getPublicKey();
  const seed = new TextDecoder().decode(pair.getSeed());
  pair.clear();
  await db.query(`INSERT INTO nats_keys (public_key, role, app_id) VALUES ($1, 'worker', $2)`, [
    publicKey,
    appId,
  ]);
  return { publicKey, seed };
}

interface KeyColumns {
  public_key: string;
  created_at: Date;
  revoked_at: Date | null;
}

const workerKeyRow = (r: KeyColumns): WorkerKeyRow => ({
  publicKey: r.public_key,
  createdAt: r.created_at.getTime(),
  revokedAt: r.revoked_at?.getTime() ?? null,
});

export async function listWorkerKeys(db: Queryable, appId: string): Promise<WorkerKeyRow[]> {
  const { rows } = await db.query<KeyColumns>(
    `SELECT public_key, created_at, revoked_at FROM nats_keys
     WHERE app_id = $1 AND role = 'worker' ORDER BY created_at, public_key`,
    [appId],
  );
  return rows.map(workerKeyRow);
}

/**
 * Revokes an app's worker key; null when the app has no such key. Revoking
 * a revoked key again keeps its first revocation time.
 */
export async function revokeWorkerKey(
  db: Queryable,
  appId: string,
  publicKey: string,
): Promise<WorkerKeyRow | null> {
  const { rows } = await db.query<KeyColumns>(
    `UPDATE nats_keys SET revoked_at = coalesce(revoked_at, now())
     WHERE public_key = $1 AND app_id = $2 AND role = 'worker'
     RETURNING public_key, created_at, revoked_at`,
    [publicKey, appId],
  );
  return rows[0] ? workerKeyRow(rows[0]) : null;
}

/** Every key NATS should accept now, with the app of each worker key. */
export async function activeKeys(db: Queryable): Promise<NatsKey[]> {
  const { rows } = await db.query<{ public_key: string; role: string; app: string | null }>(
    `SELECT k.public_key, k.role, a.name AS app FROM nats_keys k
     LEFT JOIN apps a ON a.id = k.app_id WHERE k.revoked_at IS NULL`,
  );
  return rows.map((r): NatsKey => {
    if (r.role === 'worker') return { publicKey: r.public_key, role: 'worker', app: r.app ?? '' };
    return { publicKey: r.public_key, role: r.role === 'server' ? 'server' : 'monitor' };
  });
}
