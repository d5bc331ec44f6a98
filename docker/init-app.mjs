// One-shot (docker/compose.yaml): creates the demo app and keeps its workers'
// NATS key (the `workerKey.seed` of the answer, shown once) where the workers
// read it. If the app exists but the key file is gone, a new worker key is made.
import { existsSync, writeFileSync } from 'node:fs';

const server = 'http://server:7700/api/v1';
const app = process.env.INIT_APP_NAME ?? 'demo';
const keyFile = `/worker-keys/${app}.nk`;
const admin = { authorization: `Bearer ${process.env.INIT_ADMIN_TOKEN}` };
const json = { 'content-type': 'application/json' };

const created = await fetch(`${server}/apps`, {
  method: 'POST',
  headers: { ...json, ...admin },
  body: JSON.stringify({ name: app, secret: process.env.INIT_APP_SECRET }),
});
let seed;
if (created.status === 201) seed = (await created.json()).workerKey.seed;
else if (created.status !== 409) throw new Error(`creating app ${app}: HTTP ${created.status}`);
else if (!existsSync(keyFile)) {
  const key = await fetch(`${server}/apps/${app}/worker-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${process.env.INIT_APP_SECRET}` },
  });
  if (!key.ok) throw new Error(`new worker key for app ${app}: HTTP ${key.status}`);
  seed = (await key.json()).seed;
}
if (seed) writeFileSync(keyFile, seed, { mode: 0o600 });
console.log(`app ${app} ready; its workers' NATS key in ${keyFile}`);
