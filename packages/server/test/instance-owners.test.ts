import { ErrorCode, HandlerError } from '@drover/protocol';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import { RunFacts } from '../src/dispatch/run-facts.js';
import { InstanceOwners } from '../src/nats/instance-owners.js';

// A forged report or log batch names an instance id: repeating it must not
// cost a query each time, and many new ids at once cannot take the pool.

const db = useDatabase();
let pool: pg.Pool;
let queries = 0;

beforeAll(() => {
  pool = new pg.Pool({ connectionString: db.url, max: 8 });
  // Counts what reaches the real database.
  pool.on('acquire', () => queries++);
});
afterAll(() => pool.end());

const codeOf = (err: unknown) => (err instanceof HandlerError ? err.code : String(err));

describe('instance owners', () => {
  it('asks the database once for an unknown id, then answers a retryable UNKNOWN_INSTANCE', async () => {
    const owners = new InstanceOwners(pool, new RunFacts());
    const before = queries;
    expect(await owners.app('987654321')).toBeUndefined();
    const repeats = await Promise.all(
      Array.from({ length: 1_000 }, () => owners.app('987654321').catch((err: unknown) => err)),
    );
    expect(queries - before).toBe(1);
    for (const err of repeats) {
      expect(codeOf(err)).toBe('UNKNOWN_INSTANCE');
      expect((err as HandlerError).retryable).toBe(true);
    }
  });

  it('knows a dispatched run without a query', async () => {
    const facts = new RunFacts();
    facts.remember('42', { app: 'a1', concurrencyLimit: 0 });
    const before = queries;
    expect(await new InstanceOwners(pool, facts).app('42')).toBe('a1');
    expect(queries).toBe(before);
  });

  it('asks once for an instance that exists, then remembers its app', async () => {
    const { rows } = await pool.query<{ id: string }>(
      `WITH a AS (INSERT INTO apps (name, secret_hash) VALUES ('owners_app', 'x') RETURNING id),
            j AS (INSERT INTO jobs (app_id, name, spec, time_expression_type)
                  SELECT id, 'j', '{}', 'API' FROM a RETURNING id, app_id)
       INSERT INTO instances (app_id, job_id, status, trigger_type)
       SELECT app_id, id, 'SUCCEEDED', 'API' FROM j RETURNING id`,
    );
    const id = String(rows[0]?.id);
    const owners = new InstanceOwners(pool, new RunFacts());
    const before = queries;
    for (let i = 0; i < 100; i++) expect(await owners.app(id)).toBe('owners_app');
    expect(queries - before).toBe(1);
  });

  it('looks up at most 4 new ids at once; the rest are answered BUSY', async () => {
    const owners = new InstanceOwners(pool, new RunFacts());
    const before = queries;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        owners.app(String(5_000_000 + i)).then(
          (app) => app ?? 'missing',
          (err: unknown) => codeOf(err),
        ),
      ),
    );
    expect(answers.filter((a) => a === 'missing')).toHaveLength(4);
    expect(answers.filter((a) => a === ErrorCode.BUSY)).toHaveLength(46);
    expect(queries - before).toBe(4);
  });
});
