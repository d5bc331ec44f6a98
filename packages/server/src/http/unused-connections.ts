import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * Closing the API ends connections as they go idle, but one that never
 * carried a request (a client's spare connection: fetch opens one when it
 * aborts a stream) is not idle in Node's sense and would hold the close for
 * up to the keep-alive timeout (72 s). They hold no work: destroyed at close.
 */
export function closeUnusedConnectionsOnClose(api: FastifyInstance): void {
  const unused = new Set<Socket>();
  api.server.on('connection', (socket: Socket) => {
    unused.add(socket);
    socket.once('close', () => unused.delete(socket));
  });
  api.server.on('request', (request: { socket: Socket }) => unused.delete(request.socket));
  api.addHook('preClose', async () => {
    for (const socket of unused) socket.destroy();
  });
}
