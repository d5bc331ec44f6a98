import type pg from 'pg';
import type { Logger } from 'pino';

export const ADVANCE_CHANNEL = 'drover_workflow_advance';
const RECONNECT_MS = 1_000;

/**
 * LISTENs on the channel the workflow_runs trigger notifies (migration 0009)
 * and wakes the advancer. A wake-up only: while the connection is down the
 * advancer's periodic scan finds the runs, and each reconnect wakes it once.
 */
export class AdvanceListener {
  private client: pg.PoolClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly released = new WeakSet<pg.PoolClient>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly wake: () => void,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let client: pg.PoolClient | undefined;
    try {
      client = await this.pool.connect();
      const held = client;
      held.on('notification', () => this.wake());
      held.on('error', (err) => this.lost(held, err));
      await held.query(`LISTEN ${ADVANCE_CHANNEL}`);
      if (this.stopped) {
        held.release();
        return;
      }
      this.client = held;
      this.wake(); // notifications missed while not listening
    } catch (err) {
      if (client) this.lost(client, err as Error);
      else this.retry(err as Error);
    }
  }

  private lost(client: pg.PoolClient, err: Error): void {
    // A connection that dies mid-LISTEN is reported twice (its 'error' event,
    // then the query's rejection): it goes back to the pool once.
    if (this.released.has(client)) return;
    this.released.add(client);
    if (this.client === client) this.client = undefined;
    client.removeAllListeners('notification');
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    client.release(err);
    this.retry(err);
  }

  private retry(err: Error): void {
    if (this.stopped) return;
    this.log.debug({ err: err.message }, 'workflow advance listener down; reconnecting');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), RECONNECT_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    client.removeAllListeners('notification');
    await client.query(`UNLISTEN ${ADVANCE_CHANNEL}`).catch(() => undefined);
    client.removeAllListeners('error');
    client.release();
  }
}
