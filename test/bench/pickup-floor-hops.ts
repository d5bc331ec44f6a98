import { createServer } from 'node:http';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';

// The hops a Drover pickup must take, with no Drover code around them, as two
// processes shaped as drover-server and drover-worker (see pickup-floor.ts):
//   `api <nats> <database>`: a node:http server; a POST's body (a run id) is
//     INSERTed (a durable commit), then sent by NATS request to the worker,
//     then answered;
//   `worker <nats>`: answers each request (its accept), then notes its start
//     (`start <id> <wall ms>` on stdout), as a worker starts a run once its
//     accept is written.

const SUBJECT = 'floor.run_job';
const [role, natsUrl, databaseUrl] = process.argv.slice(2);

// Wall time to sub-ms: the monotonic clock set against Date.now() at the tick of a millisecond.
const hrMs = () => Number(process.hrtime.bigint()) / 1e6;
const edge = Date.now();
while (Date.now() === edge) {}
const wallBase = Date.now() - hrMs();

const nc = await connect({ servers: natsUrl });

if (role === 'api') {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  await db.query('CREATE TABLE IF NOT EXISTS floor_runs (id bigserial PRIMARY KEY, run text)');
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', async () => {
      try {
        const insert = 'INSERT INTO floor_runs (run) VALUES ($1) RETURNING id';
        await db.query({ name: 'insert', text: insert, values: [body] });
        await nc.request(SUBJECT, new TextEncoder().encode(body), { timeout: 5_000 });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch (err) {
        res.writeHead(500).end(String(err));
      }
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    console.log(`listening ${typeof address === 'object' && address ? address.port : 0}`);
  });
} else if (role === 'worker') {
  nc.subscribe(SUBJECT, {
    callback: (_err, msg) => {
      msg.respond(new Uint8Array([1]));
      queueMicrotask(() => console.log(`start ${msg.string()} ${(wallBase + hrMs()).toFixed(3)}`));
    },
  });
  await nc.flush();
  console.log('ready');
} else {
  console.error(`unknown role ${role}`);
  process.exit(2);
}
