import { createConnection, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Forward connections to the target. */
  enable(): void;
  /** Cut every open connection and refuse new ones, like the target going down. */
  disable(): void;
  /**
   * Cut every open connection with a TCP RST (ECONNRESET on both ends, like a
   * middlebox or a crashed peer), while new connections still go through.
   */
  reset(): void;
  /** Until the returned stop is called: `reset()` every `periodMs`. */
  resetEvery(periodMs: number): () => void;
  /** Until the returned stop is called: down, up, down… switching every `periodMs`; stop leaves it up. */
  flap(periodMs: number): () => void;
  close(): Promise<void>;
}

/** Calls `fn` every `periodMs` until the returned stop is called. */
function every(periodMs: number, fn: () => void): () => void {
  fn();
  const timer = setInterval(fn, periodMs);
  return () => clearInterval(timer);
}

/** A loopback TCP proxy a test can switch off and on, reset and flap, to take a dependency away and back. */
export async function startTcpProxy(targetPort: number, enabled = true): Promise<TcpProxy> {
  let forwarding = enabled;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    if (!forwarding) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const proxy: TcpProxy = {
    port: typeof address === 'object' && address ? address.port : 0,
    enable: () => {
      forwarding = true;
    },
    disable: () => {
      forwarding = false;
      for (const s of sockets) s.destroy();
    },
    reset: () => {
      for (const s of sockets) {
        // Not yet connected upstream: there is nothing to reset, only to close.
        if (s.connecting) s.destroy();
        else s.resetAndDestroy();
      }
    },
    resetEvery: (periodMs) => every(periodMs, proxy.reset),
    flap: (periodMs) => {
      const stop = every(periodMs, () => (forwarding ? proxy.disable() : proxy.enable()));
      return () => {
        stop();
        proxy.enable();
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return proxy;
}
