import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import { type AuthorizedNats, startAuthorizedNats } from '../harness/authorized-nats.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { spawnDrover } from '../harness/drover-process.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';
import { stopProcess } from '../harness/process.js';

// NATS over TLS, as docs/security.md tells an operator to set it up: a
// `tls { cert_file, key_file }` block in nats.conf, `tls://` URLs, and the
// private CA given to Drover's processes with NODE_EXTRA_CA_CERTS. A worker
// that does not trust the CA says why and keeps retrying; it never connects.

const run = promisify(execFile);
const db = useDatabase();
let dir: string;
let nats: AuthorizedNats;
let cluster: DroverCluster;
let tlsUrl: string;
let caFile: string;

/** A CA and a certificate for `localhost` (and 127.0.0.1) signed by it. */
async function makeCertificates(into: string) {
  const at = (name: string) => join(into, name);
  const openssl = (...args: string[]) => run('openssl', args);
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.pem'),
    '-subj',
    '/CN=Drover test CA',
  );
  await openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    at('server.key'),
    '-out',
    at('server.csr'),
    '-subj',
    '/CN=localhost',
  );
  await writeFile(at('san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await openssl(
    'x509',
    '-req',
    '-in',
    at('server.csr'),
    '-CA',
    at('ca.pem'),
    '-CAkey',
    at('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    at('san.cnf'),
    '-out',
    at('server.pem'),
  );
  return { ca: at('ca.pem'), cert: at('server.pem'), key: at('server.key') };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-tls-'));
  const certs = await makeCertificates(dir);
  caFile = certs.ca;
  nats = await startAuthorizedNats({
    config: `tls { cert_file: ${JSON.stringify(certs.cert)}, key_file: ${JSON.stringify(certs.key)} }\n`,
  });
  // The certificate's name: nats.js checks an IP address in the URL against `localhost`.
  tlsUrl = `tls://localhost:${nats.port}`;
  const tlsEnv = { DROVER_NATS_URL: tlsUrl, NODE_EXTRA_CA_CERTS: caFile };
  cluster = await startDroverCluster(db.url, { nats, serverEnv: tlsEnv });
  await cluster.startWorker('tls-w1', [], { env: tlsEnv });
  await cluster.untilWorkersAlive(1);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

it('runs a job end to end with the server and the worker on NATS over TLS', async () => {
  const run = await cluster.run({ processorName: 'echo' }, { params: { text: 'over tls' } });
  const done = await waitForInstance(cluster.app, run.id, (i) => i.status === 'SUCCEEDED');
  expect(done.result).toBe('over tls');
});

it('keeps a worker that does not trust the CA out, saying why, and retrying', async () => {
  const worker = await spawnDrover(
    'worker',
    ['--processors', 'test/fixtures/processors.ts', '--worker-id', uniqueName('untrusting')],
    {
      DROVER_NATS_URL: tlsUrl,
      DROVER_APP: cluster.app.name,
      DROVER_NATS_NKEY_FILE: cluster.app.workerSeedFile,
      DROVER_LOG_LEVEL: 'info',
      NODE_EXTRA_CA_CERTS: '',
    },
    /"reason":"unable to verify the first certificate".*not signed by a CA this process trusts: give the CA in NODE_EXTRA_CA_CERTS/,
  );
  try {
    // Still there (degraded, not dead), and never counted alive.
    expect(worker.child.exitCode).toBeNull();
    const res = await cluster.app.api.get(`/api/v1/apps/${cluster.app.name}/workers`);
    expect(res.body.workers.filter((w: { alive: boolean }) => w.alive)).toHaveLength(1);
  } finally {
    await stopProcess(worker, 'SIGKILL');
  }
});
