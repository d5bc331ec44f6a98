import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { natsUrl } from '../../../test/harness/fixtures.js';
import { connectNats } from '../src/index.js';
import { requiredTls } from '../src/require-tls.js';

// A tls:// URL requires TLS: a NATS that does not offer it (or someone in
// between who strips the offer) is refused, never spoken to in clear.

describe('a tls:// URL', () => {
  it('is refused by a NATS that offers no TLS, saying so, and retried', async () => {
    const plain = new URL(natsUrl());
    const refused = /offers no TLS, which a tls:\/\/ URL requires/;
    let refusals = 0;
    let refusedTwice = () => {};
    const twice = new Promise<string>((resolve) => {
      refusedTwice = () => resolve('refused twice');
    });
    const log = pino(
      { level: 'warn' },
      {
        write: (line: string) => {
          if (refused.test(JSON.parse(line).msg) && ++refusals === 2) refusedTwice();
        },
      },
    );
    const stop = new AbortController();
    const connecting = connectNats({
      servers: `tls://127.0.0.1:${plain.port}`,
      name: 'tls-required',
      log,
      insecureNats: true,
      signal: stop.signal,
      maximumIntervalMs: 100,
    });
    // Refused twice (it keeps retrying) before it ever connects in clear.
    const first = await Promise.race([
      twice,
      connecting.then(
        () => 'connected',
        () => 'gave up',
      ),
    ]);
    stop.abort();
    expect(first).toBe('refused twice');
    await expect(connecting).rejects.toThrow();
  });

  it('makes TLS required for every server in the list, and only then', () => {
    expect(requiredTls('tls://nats.example:4222')).toEqual({ tls: {} });
    expect(requiredTls(['nats://a:4222', ' TLS://b:4222'])).toEqual({ tls: {} });
    expect(requiredTls(['nats://a:4222', 'b:4222'])).toEqual({});
  });
});
