import { rename, writeFile } from 'node:fs/promises';
import type pg from 'pg';
import type { Logger } from 'pino';
import { activeKeys } from '../store/nats-keys.js';
import { natsAuthConfig } from './nats-auth-config.js';

/** Where the generated authorization goes and how nats-server is told to re-read it. */
export interface NatsAuthTarget {
  file: string;
  reload(): Promise<void>;
}

// Any constant works; it only has to be the same for every Drover server, so
// servers sharing one file write it in turn, each from the database as it is then.
const WRITE_LOCK = 727_012;

/**
 * Keeps nats-server's authorization include in step with the nats_keys table.
 * One write is in flight at a time; changes made meanwhile are coalesced into
 * one more write, which every caller waiting for them awaits.
 */
export class NatsAuthWriter {
  private inFlight: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(
    private readonly db: pg.Pool,
    private readonly target: NatsAuthTarget,
    private readonly log: Logger,
  ) {}

  /** Resolves once a write that started after this call has been reloaded. */
  sync(): Promise<void> {
    if (this.next !== undefined) return this.next;
    if (this.inFlight === undefined) return this.start();
    this.next = this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<void> {
    const run = this.write().finally(() => {
      if (this.inFlight === run) this.inFlight = undefined;
    });
    this.inFlight = run;
    return run;
  }

  private async write(): Promise<void> {
    const client = await this.db.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK]);
      const keys = await activeKeys(client);
      const text = natsAuthConfig(keys);
      // Written beside the target and renamed: nats-server never reads half a file.
      const temporary = `${this.target.file}.${process.pid}.tmp`;
      await writeFile(temporary, text, { mode: 0o644 });
      await rename(temporary, this.target.file);
      await this.target.reload();
      await client.query('COMMIT');
      this.log.info({ file: this.target.file, users: keys.length }, 'NATS authorization reloaded');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}
