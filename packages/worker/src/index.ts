export type { DroverWorker, WorkerOptions } from './runtime/worker.js';
export { startWorker } from './runtime/worker.js';
export type { OnlineLogger } from './sdk/online-logger.js';
export type {
  BasicProcessor,
  ProcessOutcome,
  Processor,
  ProcessorContext,
} from './sdk/processor.js';
export {
  basicProcessor,
  broadcastProcessor,
  mapProcessor,
  mapReduceProcessor,
  NonRetryableError,
} from './sdk/processor.js';
