import type { DroverLogger } from '@drover/transport';
import { pino } from 'pino';

/** The logger of a worker embedded without one: pino at `info`, JSON lines on stderr. */
export function defaultLogger(): DroverLogger {
  return pino({ level: 'info' }, pino.destination(2));
}
