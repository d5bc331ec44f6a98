import { pino } from 'pino';

/** Silent unless DROVER_TEST_LOG names a level, so failures can be traced on demand. */
export function testLogger(name: string) {
  return pino({ name, level: process.env.DROVER_TEST_LOG ?? 'silent' });
}
