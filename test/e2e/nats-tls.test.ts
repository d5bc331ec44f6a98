import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import { type AuthorizedNats, startAuthorizedNats } from '../harness/authorized-nats.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { spawnDrover } from '../harness/drover-process.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';
import { stopProcess } from '../harness/process.js';
import { makeTlsFiles } from '../harness/tls-certificates.js';

// NATS over TLS, as docs/security.md tells an operator to set it up: a
// `tls { cert_file, key_file }` block in nats.conf, `tls://` URLs, and the
// private CA given to Drover's processes with NODE_EXTRA_CA_CERTS. A worker
// that does not trust the CA says why and keeps retrying; it never connects.

const db = useDatabase();
let dir: string;
let nats: AuthorizedNats;
let cluster: DroverCluster;
let tlsUrl: string;
let caFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-tls-'));
  const certs = await makeTlsFiles(dir);
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
