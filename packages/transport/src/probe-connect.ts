import { nkeyAuthenticator } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { requiredTls } from './require-tls.js';

export interface ProbeOptions {
  servers: string | string[];
  nkeySeed: Uint8Array;
  /** Give up (throwing the last refusal) after this long. */
  timeoutMs: number;
  /** Pause between tries. */
  intervalMs?: number;
}

/**
 * Connects once with a credential, retrying until NATS accepts it or the
 * time is up: a key just written into nats-server's config is usable only
 * once nats-server has reloaded it (SIGHUP is asynchronous).
 */
export async function probeNatsCredential(options: ProbeOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    try {
      const nc = await connect({
        servers: options.servers,
        name: 'drover-credential-probe',
        authenticator: nkeyAuthenticator(options.nkeySeed),
        reconnect: false,
        ...requiredTls(options.servers),
        timeout: Math.max(100, Math.min(2_000, deadline - Date.now())),
      });
      await nc.close();
      return;
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
    }
  }
}
