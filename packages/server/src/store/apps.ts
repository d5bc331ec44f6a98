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

type RawApp = { id: string; name: string; created_at: Date };

const toAppRow = (row: RawApp | undefined): AppRow | null =>
  row ? { id: row.id, name: row.name, createdAt: row.created_at.getTime() } : null;

export async function hashSecret(secret: string): Promise<string> {
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

/** Creates an app, its secret its first API token; returns null when the name is taken. */
export async function createApp(db: pg.Pool, name: string, secret: string): Promise<AppRow | null> {
  const { rows } = await db.query<RawApp>(
    `WITH app AS (
       INSERT INTO apps (name, secret_hash) VALUES ($1, $2)
       ON CONFLICT (name) DO NOTHING RETURNING id, name, created_at, secret_hash
     ), token AS (
       INSERT INTO app_tokens (app_id, token_hash, created_at)
       SELECT id, secret_hash, created_at FROM app
     )
     SELECT id, name, created_at FROM app`,
    [name, await hashSecret(secret)],
  );
  return toAppRow(rows[0]);
}

/** The app named `name`, or null (the admin token's way in: no secret to check). */
export async function findApp(db: pg.Pool, name: string): Promise<AppRow | null> {
  const { rows } = await db.query<RawApp>('SELECT id, name, created_at FROM apps WHERE name = $1', [
    name,
  ]);
  return toAppRow(rows[0]);
}

/** Every app by name (the admin's list: an operator has few apps, not millions). */
export async function listApps(db: pg.Pool): Promise<{ name: string; createdAt: number }[]> {
  const { rows } = await db.query<{ name: string; created_at: Date }>(
    'SELECT name, created_at FROM apps ORDER BY name',
  );
  return rows.map((r) => ({ name: r.name, createdAt: r.created_at.getTime() }));
}

/**
 * Generated API tokens name their row (`drv_<id>_<random>`), so a check hashes
 * one token however many an app has; the secret given at creation has no id
 * and is checked against the app's oldest live token.
 */
const TOKEN_ID = /^drv_(\d{1,18})_/;
export const TOKEN_PREFIX = 'drv_';
const tokenIdOf = (secret: string): string | null => TOKEN_ID.exec(secret)?.[1] ?? null;

/** Too many secret checks waiting for a hash: the caller should try again after `retryAfterS`. */
export class AuthBusyError extends Error {
  override name = 'AuthBusyError';
  constructor(readonly retryAfterS: number) {
    super(`too many secret checks at once; try again in ${retryAfterS} s`);
  }
}

// scrypt takes ~30 ms of a libuv thread: at most this many run at once, this
// many more wait, and the rest are turned away (429) instead of queueing until
// every uncached check takes seconds.
const HASHING_AT_ONCE = 2;
const HASHING_QUEUE = 32;
// A wrong (app, secret) pair is answered from memory for this long.
const FAILURE_MS = 10_000;
const REMEMBERED = 10_000;

/**
 * Checks an app's secret. scrypt is slow on purpose, so a verified
 * (app, secret digest) pair is remembered for a while, and so is a refused
 * one. An unknown app costs the same scrypt as a wrong secret, so timing does
 * not tell which apps exist.
 */
export class AppAuthenticator {
  private readonly verified = new Map<string, { app: AppRow; until: number }>();
  private readonly refused = new Map<string, number>();
  private readonly checking = new Map<string, Promise<AppRow | null>>();
  private hashing = 0;
  private readonly waiting: (() => void)[] = [];
  private decoy: Promise<string> | undefined;
  /** scrypt computations so far (observability, and tests of the unknown-app path). */
  hashes = 0;

  constructor(
    private readonly db: pg.Pool,
    private readonly cacheMs = 60_000,
  ) {}

  /** Forgets the proven secrets of app `name` (a token was revoked). */
  forgetApp(name: string): void {
    for (const key of this.verified.keys())
      if (key.startsWith(`${name}\u0000`)) this.verified.delete(key);
  }

  async authenticate(name: string, secret: string): Promise<AppRow | null> {
    const key = `${name}\u0000${createHash('sha256').update(secret).digest('base64')}`;
    const hit = this.verified.get(key);
    if (hit && hit.until > monotonicMs()) return hit.app;
    if ((this.refused.get(key) ?? 0) > monotonicMs()) return null;
    // Many calls with the same pair at once (a client's burst before its first
    // answer) share one check instead of each taking a hashing slot.
    let check = this.checking.get(key);
    if (check === undefined) {
      check = this.check(key, name, secret, hit?.app).finally(() => this.checking.delete(key));
      this.checking.set(key, check);
    }
    return check;
  }

  private async check(
    key: string,
    name: string,
    secret: string,
    provenBefore: AppRow | undefined,
  ): Promise<AppRow | null> {
    let rows: { id: string; name: string; token_hash: string | null; created_at: Date }[];
    try {
      // One hash to check whatever the number of tokens: a generated token names its row.
      const tokenId = tokenIdOf(secret);
      ({ rows } = await this.db.query(
        `SELECT a.id, a.name, a.created_at,
           (SELECT t.token_hash FROM app_tokens t
             WHERE t.app_id = a.id AND t.revoked_at IS NULL
               AND ($2::bigint IS NULL OR t.id = $2::bigint)
             ORDER BY t.id LIMIT 1) AS token_hash
         FROM apps a WHERE a.name = $1`,
        [name, tokenId],
      ));
    } catch (err) {
      // Postgres away disproves nothing: a secret proven before still counts,
      // so workers do not look dead (and their runs lost) for an outage.
      if (provenBefore && isTransientDbError(err)) return provenBefore;
      throw err;
    }
    const row = rows[0];
    // An unknown app is checked against a decoy hash: the same cost as a wrong secret.
    this.decoy ??= hashSecret(randomBytes(24).toString('base64'));
    const matches = await this.hashed(async () =>
      secretMatches(secret, row?.token_hash ?? (await (this.decoy as Promise<string>))),
    );
    if (!row || !matches) {
      // Only a known app's refusals are remembered: an app created a moment later must not be refused.
      if (row) {
        if (this.refused.size > REMEMBERED) this.refused.clear();
        this.refused.set(key, monotonicMs() + FAILURE_MS);
      }
      return null;
    }
    const app = { id: row.id, name: row.name, createdAt: row.created_at.getTime() };
    if (this.verified.size > REMEMBERED) this.verified.clear();
    this.verified.set(key, { app, until: monotonicMs() + this.cacheMs });
    return app;
  }

  /** Runs one scrypt check within the bounds above, or throws AuthBusyError. */
  private async hashed<T>(check: () => Promise<T>): Promise<T> {
    if (this.hashing >= HASHING_AT_ONCE) {
      if (this.waiting.length >= HASHING_QUEUE) throw new AuthBusyError(1);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.hashing++;
    }
    try {
      this.hashes++;
      return await check();
    } finally {
      // Hand the slot straight to the next waiter, or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.hashing--;
    }
  }
}
