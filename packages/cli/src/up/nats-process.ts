import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface NatsProcess {
  url: string;
  /** Recorded in the data dir's lock, so a crashed `drover up`'s nats-server can be ended. */
  pid?: number;
  stop(): Promise<void>;
}

const INSTALL_HINT =
  'nats-server was not found on PATH. Install it (Debian/Ubuntu: `apt-get install -y nats-server`; ' +
  'macOS: `brew install nats-server`; or a release from https://github.com/nats-io/nats-server), ' +
  'or point `drover up --nats <url>` at a running one.';

/** Spawns nats-server on a free loopback port (or `port`) and waits until it listens. */
export function startNatsProcess(port?: number, bin = 'nats-server'): Promise<NatsProcess> {
  const child = spawn(bin, ['-a', '127.0.0.1', '-p', String(port ?? -1)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const tail: string[] = [];
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'ENOENT' ? INSTALL_HINT : `nats-server: ${err.message}`)),
    );
    child.once('exit', (code) =>
      reject(new Error(`nats-server exited (${code}) before it was ready:\n${tail.join('\n')}`)),
    );
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        const listening = line.match(/Listening for client connections on [\d.]+:(\d+)/);
        if (!listening) return;
        resolve({
          url: `nats://127.0.0.1:${listening[1]}`,
          pid: child.pid,
          async stop() {
            if (child.exitCode !== null) return;
            child.kill('SIGTERM');
            await exited;
          },
        });
      });
    }
  });
}
