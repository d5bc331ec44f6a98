import { createServer } from 'node:net';

// A taken HTTP port is found before nats-server and Postgres start (initdb
// alone takes seconds), not after; the server's own bind still decides.

export const httpPortTaken = (port: number) =>
  new Error(`HTTP port ${port} is in use; stop what holds it or use --port 0`);

/** Rejects with `httpPortTaken` when `port` on 127.0.0.1 is held (0 means any port: nothing to check). */
export function checkHttpPortFree(port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? httpPortTaken(port) : err),
    );
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => resolve()));
  });
}
