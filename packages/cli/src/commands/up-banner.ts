import { withoutCredentials } from '@drover/transport';
import type { UpCluster } from '../up/up.js';

// What `drover up` prints once the cluster runs: where each part answers
// (never a credential: an --nats URL may carry a user and password) and a
// first command to try.

const EXECUTE = {
  basic: 'STANDALONE',
  map: 'MAP',
  mapReduce: 'MAP_REDUCE',
  broadcast: 'BROADCAST',
};

/** A first command to try, for the examples or the user's first processor. */
function tryLine(cluster: UpCluster): string {
  const first = cluster.processors[0];
  if (cluster.examples || !first)
    return 'drover job create --name sum --processor sum-range --execute MAP_REDUCE';
  return `drover job create --name ${first.name} --processor ${first.name} --execute ${EXECUTE[first.kind]}`;
}

/** The web console the server serves (sign in with the app and its secret). */
export function consoleUrl(cluster: Pick<UpCluster, 'serverUrl'>): string {
  return `${cluster.serverUrl}/`;
}

/** The "cluster running" banner. */
export function banner(cluster: UpCluster, dataDir: string): string {
  return [
    'drover up: cluster running',
    `  console    ${consoleUrl(cluster)}  (sign in as ${cluster.app} with its secret, or with ${dataDir}/admin-token)`,
    `  API        ${cluster.serverUrl}  (OpenAPI: ${cluster.serverUrl}/api/v1/openapi.json)`,
    `  NATS       ${withoutCredentials(cluster.natsUrl)}  (monitor: \`drover monitor\`, \`nats micro ls\`)`,
    `  Postgres   ${cluster.database}`,
    `  app        ${cluster.app}  (secret in ${dataDir}/credentials.json)`,
    `  workers    ${cluster.workerIds.join(', ') || 'none'}`,
    `  processors ${cluster.processors.map((p) => p.name).join(', ')}${cluster.examples ? ' (examples)' : ''}`,
    `  try        ${tryLine(cluster)}`,
    'Ctrl-C stops everything.',
  ].join('\n');
}
