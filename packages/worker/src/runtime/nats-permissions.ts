import { errors, type NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { WorkerRefusedError } from './secret-check.js';

// NATS accepts a valid key of another app (authentication passes) but then
// denies its subscriptions to this app's subjects, asynchronously: nats.js
// reports the -ERR on `nc.status()`, not on the subscribe call. A worker whose
// subscriptions are denied can never get work, so that is a refusal.

export interface PermissionWatch {
  /** Rejects with WorkerRefusedError at the first denied subscription; never resolves. */
  denied: Promise<never>;
}

/** Watches the connection for permission violations; a denied subscription refuses the worker. */
export function watchNatsPermissions(
  nc: NatsConnection,
  app: string,
  log: Logger,
): PermissionWatch {
  const denied = new Promise<never>((_, reject) => {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type !== 'error') continue;
        const err = status.error;
        if (!(err instanceof errors.PermissionViolationError)) continue;
        if (err.operation === 'publish') {
          log.error({ subject: err.subject }, `NATS denied a publish to ${err.subject}`);
          continue;
        }
        reject(
          new WorkerRefusedError(
            `NATS denied app ${app}'s worker the subscription to ${err.subject}: ` +
              `its NATS key (DROVER_NATS_NKEY_FILE) is not a worker key of app ${app}`,
          ),
        );
        return;
      }
    })().catch(() => undefined);
  });
  // Observed by whoever races it; unobserved it must not crash the process.
  denied.catch(() => undefined);
  return { denied };
}
