import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgres {
  /** A `postgres://` URL for `pg`: the server uses its usual code path. */
  url: string;
  /** Connections the server's pool may open (PGlite runs one session at a time). */
  poolSize: number;
  stop(): Promise<void>;
}

const CONNECTIONS = 4;

/**
 * Postgres embedded in this process: PGlite (Postgres compiled to WASM) with
 * its data under `dataDir`, behind a local Postgres-protocol socket.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  await mkdir(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  const socket = new PGLiteSocketServer({
    db,
    host: '127.0.0.1',
    port: 0,
    maxConnections: CONNECTIONS,
  });
  await socket.start();
  return {
    url: `postgres://postgres@${socket.getServerConn()}/postgres`,
    poolSize: CONNECTIONS - 1,
    async stop() {
      await socket.stop();
      await db.close();
    },
  };
}
