import { probeNatsCredential } from '@drover/transport';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  addWorkerKey,
  listWorkerKeys,
  type NewWorkerKey,
  revokeWorkerKey,
  type WorkerKeyRow,
} from '../store/nats-keys.js';
import type { NatsAuthWriter } from './nats-auth-writer.js';

// How long a new key may take to become usable (nats-server reloads asynchronously).
const PROBE_TIMEOUT_MS = 5_000;

/**
 * An app's worker credentials. With a managed authorization file, adding or
 * revoking a key rewrites and reloads it, and a new key is answered only
 * once NATS accepts it, so the caller can use it at once. If NATS does not
 * accept it in time the key is still answered (its seed is shown only once),
 * with an error logged: the reload is what is broken, not the key.
 */
export class WorkerKeys {
  constructor(
    private readonly db: pg.Pool,
    private readonly natsUrl: string,
    private readonly writer: NatsAuthWriter | undefined,
    private readonly log: Logger,
  ) {}

  async add(appId: string): Promise<NewWorkerKey> {
    const key = await addWorkerKey(this.db, appId);
    if (this.writer) {
      // A failed reload must not lose the seed either: it is logged, the key answered.
      await this.writer
        .sync()
        .then(() =>
          probeNatsCredential({
            servers: this.natsUrl,
            nkeySeed: new TextEncoder().encode(key.seed),
            timeoutMs: PROBE_TIMEOUT_MS,
          }),
        )
        .catch((err: Error) =>
          this.log.error(
            { publicKey: key.publicKey, reason: err.message },
            `the new worker key is not usable yet: the reload of the authorization file or NATS's acceptance within ${PROBE_TIMEOUT_MS} ms failed; is nats-server reloading it?`,
          ),
        );
    }
    return key;
  }

  list(appId: string): Promise<WorkerKeyRow[]> {
    return listWorkerKeys(this.db, appId);
  }

  /** Null when the app has no such key. Its connections are dropped by the reload. */
  async revoke(appId: string, publicKey: string): Promise<WorkerKeyRow | null> {
    const row = await revokeWorkerKey(this.db, appId, publicKey);
    if (row) await this.writer?.sync();
    return row;
  }
}
