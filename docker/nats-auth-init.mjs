// One-shot, as root, before nats starts (docker/compose.yaml): the server's
// nkey seed, kept on its secrets volume, and a first authorization admitting
// only the server (it writes the full one at start). Existing files are kept.
// Then both volumes belong to uid 1000, which nats-server, drover-server and
// the app's init run as (so the server may SIGHUP nats-server).
import { chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { nkeys } from '@nats-io/nats-core';

const seedFile = '/secrets/server.nk';
const authFile = '/nats-auth/auth.conf';
if (!existsSync(seedFile))
  writeFileSync(seedFile, new TextDecoder().decode(nkeys.createUser().getSeed()), { mode: 0o600 });
const seed = new TextEncoder().encode(readFileSync(seedFile, 'utf8').trim());
const serverKey = nkeys.fromSeed(seed).getPublicKey();
if (!existsSync(authFile))
  writeFileSync(
    authFile,
    `authorization { users = [ { nkey: "${serverKey}", permissions: { publish: ">", subscribe: ">" } } ] }\n`,
    { mode: 0o600 },
  );
for (const path of ['/secrets', seedFile, '/nats-auth', authFile, '/worker-keys'])
  chownSync(path, 1000, 1000);
console.log(`server key ${serverKey}; authorization in ${authFile}`);
