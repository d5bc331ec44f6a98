/** One log method: pino's call shapes, `log.info({ field }, 'message')` or `log.info('message')`. */
export interface DroverLogFn {
  (fields: object, message?: string): void;
  (message: string): void;
}

/**
 * What Drover logs to: any pino-compatible logger (pino itself, or a thin
 * adapter over another library). Drover makes a child per actor with `child`.
 */
export interface DroverLogger {
  debug: DroverLogFn;
  info: DroverLogFn;
  warn: DroverLogFn;
  error: DroverLogFn;
  child(bindings: Record<string, unknown>): DroverLogger;
}
