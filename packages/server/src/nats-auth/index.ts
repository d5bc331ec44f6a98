export type { NatsKey, NatsKeyRole } from './nats-auth-config.js';
export { MONITOR_INBOX_PREFIX, natsAuthConfig, workerInboxPrefix } from './nats-auth-config.js';
export type { NatsAuthTarget } from './nats-auth-writer.js';
export { NatsAuthWriter } from './nats-auth-writer.js';
export { reloadByPidFile } from './pid-file-reload.js';
export { WorkerKeys } from './worker-keys.js';
