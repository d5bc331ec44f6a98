export type { JsonValue } from '@drover/protocol';
export type { DroverLogger } from '@drover/transport';
export { FROM_SOURCE } from './from-source.js';
export type { DroverWorker, WorkerOptions } from './runtime/worker.js';
export { startWorker } from './runtime/worker.js';
export { WorkerRefusedError } from './runtime/worker-check.js';
export { NonJsonResultError } from './sdk/json-result.js';
export { loadProcessors, ProcessorModuleError } from './sdk/load-processors.js';
export type { OnlineLogger } from './sdk/online-logger.js';
export { InvalidPayloadError } from './sdk/payload-schema.js';
export type {
  BasicProcessor,
  BroadcastProcessor,
  MapContext,
  MapProcessor,
  MapReduceProcessor,
  ParamsSchema,
  PayloadSchema,
  ProcessOutcome,
  Processor,
  ProcessorContext,
  TaskOutcome,
} from './sdk/processor.js';
export {
  basicProcessor,
  broadcastProcessor,
  mapProcessor,
  mapReduceProcessor,
  NonRetryableError,
} from './sdk/processor.js';
export type { StandardSchemaV1 } from './sdk/standard-schema.js';
export type { WorkflowHandle } from './sdk/workflow-context.js';
