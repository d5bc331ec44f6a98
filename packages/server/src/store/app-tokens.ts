import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { inTransaction } from '../db/pool.js';
import { hashSecret, TOKEN_PREFIX } from './apps.js';

// An app's API tokens (HTTP bearer tokens). Rotation without downtime: add a
// token, move callers to it, revoke the old one. The last live token cannot be
// revoked (the app would be locked out of its own API).

export interface AppToken {
  id: string;
  createdAt: number;
}

/** A new token for the app: the text is returned once and only its hash is kept. */
export async function addAppToken(
  db: pg.Pool,
  appId: string,
): Promise<AppToken & { token: string }> {
  return inTransaction(db, async (client) => {
    // The id is part of the token, so the row is made first and its hash set after.
    const { rows } = await client.query<{ id: string; created_at: Date }>(
      `INSERT INTO app_tokens (app_id, token_hash) VALUES ($1, '') RETURNING id, created_at`,
      [appId],
    );
    const row = rows[0] as { id: string; created_at: Date };
    const token = `${TOKEN_PREFIX}${row.id}_${randomBytes(32).toString('base64url')}`;
    await client.query('UPDATE app_tokens SET token_hash = $2 WHERE id = $1', [
      row.id,
      await hashSecret(token),
    ]);
    return { id: row.id, createdAt: row.created_at.getTime(), token };
  });
}

/** The app's live tokens, oldest first: ids and creation times, never the tokens. */
export async function listAppTokens(db: pg.Pool, appId: string): Promise<AppToken[]> {
  const { rows } = await db.query<{ id: string; created_at: Date }>(
    `SELECT id, created_at FROM app_tokens WHERE app_id = $1 AND revoked_at IS NULL ORDER BY id`,
    [appId],
  );
  return rows.map((r) => ({ id: r.id, createdAt: r.created_at.getTime() }));
}

export type RevokeResult = 'revoked' | 'not_found' | 'last';

/** Revokes one token unless it is the app's last live one (concurrent revokes take turns). */
export function revokeAppToken(db: pg.Pool, appId: string, tokenId: string): Promise<RevokeResult> {
  return inTransaction(db, async (client) => {
    await client.query('SELECT 1 FROM apps WHERE id = $1 FOR UPDATE', [appId]);
    const { rows } = await client.query<{ id: string }>(
      'SELECT id FROM app_tokens WHERE app_id = $1 AND revoked_at IS NULL',
      [appId],
    );
    if (!rows.some((r) => r.id === tokenId)) return 'not_found';
    if (rows.length === 1) return 'last';
    await client.query('UPDATE app_tokens SET revoked_at = now() WHERE id = $1', [tokenId]);
    return 'revoked';
  });
}
