export type { AskOptions } from './ask.js';
export { ask } from './ask.js';
export { askAll } from './ask-all.js';
export { Bus } from './bus.js';
export type { BusMetrics } from './bus-metrics.js';
export { registerBusMetrics } from './bus-metrics.js';
export type { ConnectOptions } from './connect.js';
export { connectNats, isNatsAuthError } from './connect.js';
export { EnvFlagError, envFlag } from './env-flag.js';
export { envSecret, SecretSettingError, warnSecretInArgv } from './env-secret.js';
export { publishEvent, subscribeEvents } from './events.js';
export type { HandleOptions, Handler, HandlerContext, HandlerFn, Subscribe } from './handle.js';
export { HANDLER_LIMITS, handle } from './handle.js';
export type { MessageMeta } from './headers.js';
export { fromHeaders, toHeaders } from './headers.js';
export { zodIssues } from './issues.js';
export { LogLimiter } from './log-limiter.js';
export type { DroverLogFn, DroverLogger } from './logger.js';
export type { Monitoring, MonitoringOptions, ServiceIdentity } from './monitoring.js';
export { startMonitoring } from './monitoring.js';
export { NatsNotSecuredError, requireSecuredNats, SECURITY_DOC } from './nats-security.js';
export {
  NkeySeedFileError,
  parseUserSeed,
  publicKeyOfSeed,
  readNkeySeedFile,
  warnIfSeedFileShared,
} from './nkey-seed-file.js';
export { encodeChecked, maxPayload } from './payload.js';
export type { ProbeOptions } from './probe-connect.js';
export { probeNatsCredential } from './probe-connect.js';
export type { ReliableAskOptions } from './reliable-ask.js';
export { reliableAsk } from './reliable-ask.js';
export type { RouteCounters } from './route-stats.js';
export { RouteStats } from './route-stats.js';
export { serversForLog, withoutCredentials } from './safe-url.js';
export { tell } from './tell.js';
export { type TlsAdvice, tlsCertificateProblem } from './tls-problem.js';
