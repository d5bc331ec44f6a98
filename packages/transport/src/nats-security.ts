import type { NatsConnection } from '@nats-io/nats-core';
import type { DroverLogger as Logger } from './logger.js';

/** Where the operator reads how to give NATS credentials (or why insecure is a choice). */
export const SECURITY_DOC = 'docs/security.md';

/**
 * NATS accepted us without asking who we are: anyone on the network could
 * then send Drover messages. Raised unless the process was started insecure on purpose.
 */
export class NatsNotSecuredError extends Error {
  override name = 'NatsNotSecuredError';
  constructor(url: string) {
    super(
      `NATS at ${url} does not require authentication, so anyone who reaches it can read and send Drover messages. ` +
        `Give NATS credentials (see ${SECURITY_DOC}), or accept the risk with --insecure-nats / DROVER_INSECURE_NATS=1.`,
    );
  }
}

/**
 * Refuses a connection to a NATS without authentication unless `insecureNats`,
 * in which case it warns once (one connection per process start).
 */
export async function requireSecuredNats(
  nc: NatsConnection,
  url: string,
  insecureNats: boolean,
  log: Logger,
): Promise<void> {
  if (nc.info?.auth_required === true) return;
  if (insecureNats) {
    log.warn(
      { url, doc: SECURITY_DOC },
      `NATS at ${url} does not require authentication; running anyway because of --insecure-nats`,
    );
    return;
  }
  await nc.close().catch(() => undefined);
  throw new NatsNotSecuredError(url);
}
