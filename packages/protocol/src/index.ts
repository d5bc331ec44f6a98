export { monotonicMs } from './clock.js';
export { decode, encode } from './codec.js';
export {
  DispatchStrategy,
  ExecuteType,
  enumValues,
  FINAL_INSTANCE_STATUSES,
  FINAL_TASK_STATUSES,
  InstanceStatus,
  TaskStatus,
  TimeExpressionType,
} from './enums.js';
export { ErrorBody, ReplyEnvelope } from './envelope.js';
export type { FieldIssue } from './errors.js';
export {
  BusyError,
  DisconnectedError,
  DroverError,
  ErrorCode,
  formatIssues,
  HandlerError,
  InvalidPayloadError,
  isRetryable,
  NoRespondersError,
  PayloadTooLargeError,
  RemoteError,
  TimeoutError,
} from './errors.js';
export { Header } from './headers.js';
export * as apiViews from './http/views.js';
export * as common from './messages/common.js';
export {
  DroverEvent,
  InstanceEvent,
  LogEvent,
  ProgressEvent,
  WorkerEvent,
  WorkflowNodeEvent,
  WorkflowRunEvent,
} from './messages/events.js';
export type { JsonValue } from './messages/json-result.js';
export * as ptMessages from './messages/processor-tracker.js';
export * as serverMessages from './messages/server.js';
export * as ttMessages from './messages/task-tracker.js';
export {
  contextBytes,
  MAX_CONTEXT_BYTES,
  RunJobWorkflow,
  WorkflowContext,
} from './messages/workflow-context.js';
export type {
  ParsedRequestOf,
  Pattern,
  ReplyInputOf,
  ReplyOf,
  RequestOf,
  Route,
} from './route.js';
export { defineRoute, routeQueue, routeSubject, SERVER_QUEUE_GROUP } from './route.js';
export { allRoutes, routes } from './routes.js';
export type { Actor, AddressOf, ServerAddress, WorkerAddress } from './subjects.js';
export {
  ANY_APP,
  appOfSubject,
  appWildcard,
  eventsSubject,
  SUBJECT_ROOT,
  serverStatusSubject,
  serverSubject,
  workerStatusSubject,
  workerSubject,
} from './subjects.js';
export { Timing } from './timing.js';
export {
  AppName,
  Count,
  DecimalId,
  EpochMs,
  isSubjectToken,
  OpaqueId,
  WorkerId,
} from './tokens.js';
export { DROVER_VERSION } from './version.js';
