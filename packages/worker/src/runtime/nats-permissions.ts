import type { DroverLogger as Logger } from '@drover/transport';
import { errors, type NatsConnection } from '@nats-io/nats-core';
import { WorkerRefusedError } from './worker-check.js';

// NATS accepts a valid key of another app (authentication passes) but then
// denies its subscriptions to this app's subjects, asynchronously: nats.js
// reports the -ERR on `nc.status()`, not on the subscribe call. A worker whose
// subscriptions are denied can never get work, so that is a refusal. So is a
// key NATS stops accepting (revoked): nats.js then gives up reconnecting and
// closes the connection with an AuthorizationError.

export interface PermissionWatch {
  /** Rejects with WorkerRefusedError at the first denied subscription or once NATS refuses the key; never resolves. */
  denied: Promise<never>;
}

/** Watches the connection for permission violations; a denied subscription refuses the worker. */
export function watchNatsPermissions(
  nc: NatsConnection,
  app: string,
  log: Logger,
): PermissionWatch {
  let denied = new Promise<never>((_, reject) => {
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
  const revoked = nc.closed().then((err) => {
    if (!(err instanceof errors.AuthorizationError)) return new Promise<never>(() => undefined);
    throw new WorkerRefusedError(
      `NATS no longer accepts app ${app}'s worker key (revoked?): ${err.message}`,
    );
  });
  denied = Promise.race([denied, revoked]);
  // Observed by whoever races it; unobserved it must not crash the process.
  denied.catch(() => undefined);
  return { denied };
}
