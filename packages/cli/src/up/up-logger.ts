import { type Logger, pino } from 'pino';
import { PinoPretty } from 'pino-pretty';

// `drover up`'s own logs on stderr: readable lines for a person at a
// terminal, JSON for anything else (a pipe, a file, a log shipper) or with
// --json-logs. Redaction runs in pino before either format is written.

const REDACT = ['secret', 'natsPass', 'adminToken', 'req.headers.authorization'];

export function upLogger(level: string, options: { json: boolean }): Logger {
  if (options.json || !process.stderr.isTTY)
    return pino({ level, redact: REDACT }, pino.destination(2));
  return pino(
    { level, redact: REDACT },
    PinoPretty({
      destination: 2,
      sync: true,
      colorize: true,
      singleLine: true,
      ignore: 'pid,hostname',
      translateTime: 'SYS:HH:MM:ss.l',
    }),
  );
}
