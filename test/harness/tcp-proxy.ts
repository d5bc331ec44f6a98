import { createConnection, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Forward connections to the target. */
  enable(): void;
  /** Cut every open connection and refuse new ones, like the target going down. */
  disable(): void;
  close(): Promise<void>;
}

/** A loopback TCP proxy a test can switch off and on, to take a dependency away and back. */
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
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    enable: () => {
      forwarding = true;
    },
    disable: () => {
      forwarding = false;
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
