import { connect, createServer, type Socket } from 'node:net';

// Test files run in parallel, and starting a Drover process from source
// (node, the tsx hook, its modules, its processor threads) takes seconds of
// CPU. Many starting at once on a small machine each took longer than its
// ready deadline. The gate lets a few start at a time across every test file,
// and a process's deadline counts from its turn: the start itself is as fast
// as when files ran one at a time, and the run's CPU goes to tests, not to a
// pile of half-started processes.

export interface StartGate {
  port: number;
  close(): Promise<void>;
}

/**
 * The gate (in vitest's global setup): each TCP connection is a request for a
 * turn, granted in order (`go`) while fewer than `turns` are out; closing the
 * connection ends the turn, also when its test process died.
 */
export async function startGate(turns: number): Promise<StartGate> {
  const waiting: Socket[] = [];
  const open = new Set<Socket>();
  let free = turns;
  const grant = () => {
    while (free > 0 && waiting.length > 0) {
      const socket = waiting.shift() as Socket;
      if (socket.destroyed) continue;
      free--;
      socket.once('close', () => {
        free++;
        grant();
      });
      socket.write('go\n');
    }
  };
  const server = createServer((socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    socket.on('error', () => socket.destroy());
    waiting.push(socket);
    grant();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('start gate has no port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}

/** Runs `start` in a turn of the gate at `port` (none given: at once, e.g. in a benchmark). */
export async function inTurn<T>(port: number | undefined, start: () => Promise<T>): Promise<T> {
  if (port === undefined) return start();
  const socket = connect(port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('data', () => resolve());
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('start gate closed')));
    });
    return await start();
  } finally {
    socket.destroy();
  }
}
