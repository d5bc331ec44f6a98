import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { monotonicMs } from '@drover/protocol';
import type pg from 'pg';
import { isTransientDbError } from '../db/transient-error.js';

const scrypt = promisify(scryptCb) as (
  secret: string,
  salt: Buffer,
  keylen: number,
) => Promise<Buffer>;

export interface AppRow {
  id: string;
  name: string;
  createdAt: number;
}

async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, 32);
  return `scrypt$${salt.toString('base64')}$${key.toString('base64')}`;
}

async function secretMatches(secret: string, stored: string): Promise<boolean> {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scrypt(secret, Buffer.from(salt, 'base64'), expected.length);
  return timingSafeEqual(actual, expected);
}

/** Creates an app; returns null when the name is taken. */
export async function createApp(db: pg.Pool, name: string, secret: string): Promise<AppRow | null> {
  const { rows } = await db.query<{ id: string; name: string; created_at: Date }>(
    `INSERT INTO apps (name, secret_hash) VALUES ($1, $2)
     ON CONFLICT (name) DO NOTHING RETURNING id, name, created_at`,
    [name, await hashSecret(secret)],
  );
  const row = rows[0];
  return row ? { id: row.id, name: row.name, createdAt: row.created_at.getTime() } : null;
}

/**
 * Checks an app's secret. scrypt is slow on purpose, so a verified
 * (app, secret digest) pair is remembered for a while.
 */
export class AppAuthenticator {
  private readonly verified = new Map<string, { app: AppRow; until: number }>();

  constructor(
    private readonly db: pg.Pool,
    private readonly cacheMs = 60_000,
  ) {}

  async authenticate(name: string, secret: string): Promise<AppRow | null> {
    const key = `${name}\u0000${createHash('sha256').update(secret).digest('base64')}`;
    const hit = this.verified.get(key);
    if (hit && hit.until > monotonicMs()) return hit.app;
    let rows: { id: string; name: string; secret_hash: string; created_at: Date }[];
    try {
      ({ rows } = await this.db.query(
        'SELECT id, name, secret_hash, created_at FROM apps WHERE name = $1',
        [name],
      ));
    } catch (err) {
      // Postgres away disproves nothing: a secret proven before still counts,
      // so workers do not look dead (and their runs lost) for an outage.
      if (hit && isTransientDbError(err)) return hit.app;
      throw err;
    }
    const row = rows[0];
    if (!row || !(await secretMatches(secret, row.secret_hash))) return null;
    const app = { id: row.id, name: row.name, createdAt: row.created_at.getTime() };
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(key, { app, until: monotonicMs() + this.cacheMs });
    return app;
  }
}
