import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { refusedMessage } from '../client/api-client.js';
import { CliError, Exit } from '../client/exit-codes.js';
import { jsonFlag } from './context.js';

// The job options `job create`, `job update` and `job preview` take as flags,
// each one field of the API's job body (POST/PUT …/jobs).

/** A whole number of at least `min`, or a usage error naming the flag. */
export const integerAtLeast = (flag: string, min: number) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min)
    throw new InvalidArgumentError(
      `${flag} must be ${min === 1 ? 'a positive integer' : `an integer of at least ${min}`}`,
    );
  return n;
};

export interface JobSpecFlags {
  file?: string;
  name?: string;
  processor?: string;
  execute?: string;
  schedule?: string;
  every?: string;
  timeZone?: string;
  params?: string;
  concurrency?: number;
  maxAttempts?: number;
  retryInterval?: number;
  taskMaxAttempts?: number;
  timeout?: number;
  startTimeout?: number;
  tag?: string[];
}

/** Adds the job spec flags to a command. */
export function withJobSpecFlags(command: Command): Command {
  return command
    .option('-f, --file <path>', 'job spec as JSON or YAML (the API body of POST /jobs)')
    .option('--name <name>', 'job name')
    .option('--processor <name>', 'processor name (processorName)')
    .option('--execute <type>', 'STANDALONE, BROADCAST, MAP or MAP_REDUCE (executeType)')
    .option(
      '--schedule <type>',
      'API, CRON, FIXED_RATE, FIXED_DELAY or ONE_SHOT (timeExpressionType)',
    )
    .option('--every <expression>', 'the time expression: a CRON line, an interval in ms, a date')
    .option('--time-zone <zone>', 'IANA time zone of a CRON schedule, e.g. Europe/Paris (timeZone)')
    .option('--params <json>', 'job params as JSON (jobParams); @file reads a file, @- stdin')
    .option(
      '--concurrency <n>',
      'tasks per worker at once (concurrencyPerWorker)',
      integerAtLeast('--concurrency', 1),
    )
    .option(
      '--max-attempts <n>',
      'attempts of a run, the first included: 1 = no retry (instanceRetry.maximumAttempts)',
      integerAtLeast('--max-attempts', 1),
    )
    .option(
      '--retry-interval <ms>',
      'wait before the first retry of a run, doubling after (instanceRetry.initialIntervalMs)',
      integerAtLeast('--retry-interval', 0),
    )
    .option(
      '--task-max-attempts <n>',
      'attempts of each task of a map or broadcast run (taskRetry.maximumAttempts)',
      integerAtLeast('--task-max-attempts', 1),
    )
    .option(
      '--timeout <ms>',
      'a run still going after this fails; 0 = none (instanceTimeoutMs)',
      integerAtLeast('--timeout', 0),
    )
    .option(
      '--start-timeout <ms>',
      'a run not started this long after it was due fails (scheduleToStartTimeoutMs)',
      integerAtLeast('--start-timeout', 100),
    )
    .option('--tag <tag...>', 'only workers with all these tags run it (tags)');
}

/** The flag that sets each field of a job spec, as the server names the field in an issue. */
const FLAG_OF_FIELD: Record<string, string> = {
  'body.name': '--name',
  'body.processorName': '--processor',
  'body.executeType': '--execute',
  'body.timeExpressionType': '--schedule',
  'body.timeExpression': '--every',
  'body.timeZone': '--time-zone',
  'body.jobParams': '--params',
  'body.concurrencyPerWorker': '--concurrency',
  'body.instanceTimeoutMs': '--timeout',
  'body.scheduleToStartTimeoutMs': '--start-timeout',
  'body.tags': '--tag',
  'body.instanceRetry.maximumAttempts': '--max-attempts',
  'body.instanceRetry.initialIntervalMs': '--retry-interval',
  'body.taskRetry.maximumAttempts': '--task-max-attempts',
};

/**
 * Runs a call that sends a job spec; a refusal names, beside each field, the
 * flag that sets it (`--processor (body.processorName): …`): the user typed
 * flags, not the API's fields. The --json envelope keeps the server's issues.
 */
export async function namingFlags<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (!(err instanceof CliError) || err.issues.length === 0) throw err;
    const label = (path: string) => {
      const flag = FLAG_OF_FIELD[path];
      return flag ? `${flag} (${path})` : path || '(body)';
    };
    throw new CliError(refusedMessage(err.issues, label), err.exitCode, {
      code: err.code,
      issues: err.issues,
    });
  }
}

/** Reads a job spec file: one JSON or YAML object. */
export async function specFile(path: string, what = 'job'): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, Exit.USAGE);
  }
  let spec: unknown;
  try {
    spec = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    // yaml's own advice here names its API (parseAllDocuments), not what to change in the file.
    if ((err as { code?: string }).code === 'MULTIPLE_DOCS')
      throw new CliError(
        `${path} holds more than one YAML document (a --- line between them): put one ${what} in the file`,
        Exit.USAGE,
      );
    throw new CliError(
      `${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
      Exit.USAGE,
    );
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
    throw new CliError(`${path} must hold one ${what} object`, Exit.USAGE);
  return spec as Record<string, unknown>;
}

const asObject = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * `base` (a file's spec, or the job's current one) with the flags given laid
 * over it; a retry flag changes one field of its policy and keeps the others.
 */
export async function applySpecFlags(
  base: Record<string, unknown>,
  o: JobSpecFlags,
): Promise<Record<string, unknown>> {
  const spec = { ...base };
  const flags: Record<string, unknown> = {
    name: o.name,
    processorName: o.processor,
    executeType: o.execute,
    timeExpressionType: o.schedule,
    timeExpression: o.every,
    timeZone: o.timeZone,
    jobParams: await jsonFlag('--params', o.params),
    concurrencyPerWorker: o.concurrency,
    instanceTimeoutMs: o.timeout,
    scheduleToStartTimeoutMs: o.startTimeout,
    tags: o.tag,
  };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) spec[k] = v;
  const instanceRetry = {
    maximumAttempts: o.maxAttempts,
    initialIntervalMs: o.retryInterval,
  };
  if (o.maxAttempts !== undefined || o.retryInterval !== undefined)
    spec.instanceRetry = { ...asObject(spec.instanceRetry), ...defined(instanceRetry) };
  if (o.taskMaxAttempts !== undefined)
    spec.taskRetry = { ...asObject(spec.taskRetry), maximumAttempts: o.taskMaxAttempts };
  return spec;
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
