export type { ServerConfigInput } from './config.js';
export { ServerConfig } from './config.js';
export { migrate } from './db/migrate.js';
export type { JobSpec } from './jobs/job-spec.js';
export { JobSpecInput } from './jobs/job-spec.js';
export { nextTrigger, previewTriggers, validateTimeExpression } from './jobs/time-expression.js';
export type { NatsAuthTarget, NatsKey, NatsKeyRole } from './nats-auth/index.js';
export {
  MONITOR_INBOX_PREFIX,
  natsAuthConfig,
  reloadByPidFile,
  workerInboxPrefix,
} from './nats-auth/index.js';
export type { DroverServer } from './server.js';
export { startServer } from './server.js';
