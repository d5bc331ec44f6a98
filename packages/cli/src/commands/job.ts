import { readFile } from 'node:fs/promises';
import { apiViews } from '@drover/protocol';
import { type Command, InvalidArgumentError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CliError, Exit } from '../client/exit-codes.js';
import { resultText } from '../output/result-text.js';
import { table, when } from '../output/table.js';
import { connect, type GlobalOptions, jsonFlag, print } from './context.js';
import { waitForRun } from './wait-for-run.js';

const JobList = z.object({
  jobs: z.array(apiViews.JobView),
  next: z.string().nullable().optional(),
});
const JobDetail = apiViews.JobView.extend({ nextTriggers: z.array(z.number()) });
// What one call of the bulk run API takes.
const MAX_RUNS_PER_CALL = 1_000;

const positive = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`${flag} must be a positive integer`);
  return n;
};

async function specFile(path: string): Promise<Record<string, unknown>> {
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
    throw new CliError(
      `${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
      Exit.USAGE,
    );
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
    throw new CliError(`${path} must hold one job object`, Exit.USAGE);
  return spec as Record<string, unknown>;
}

export function jobCommands(program: Command, globals: () => GlobalOptions): void {
  const job = program.command('job').description('create, inspect and run jobs');

  job
    .command('create')
    .description('create a job from flags or a JSON/YAML file (flags override the file)')
    .option('-f, --file <path>', 'job spec as JSON or YAML (the API body of POST /jobs)')
    .option('--name <name>', 'job name')
    .option('--processor <name>', 'processor name (processorName)')
    .option('--execute <type>', 'STANDALONE, BROADCAST, MAP or MAP_REDUCE (executeType)')
    .option(
      '--schedule <type>',
      'API, CRON, FIXED_RATE, FIXED_DELAY or ONE_SHOT (timeExpressionType)',
    )
    .option('--every <expression>', 'the time expression: a CRON line, an interval in ms, a date')
    .option('--params <json>', 'job params as JSON (jobParams)')
    .option(
      '--concurrency <n>',
      'tasks per worker at once (concurrencyPerWorker)',
      positive('--concurrency'),
    )
    .action(async (o: Record<string, string | number | undefined>) => {
      const conn = await connect(globals());
      const spec: Record<string, unknown> = o.file ? await specFile(String(o.file)) : {};
      const flags: Record<string, unknown> = {
        name: o.name,
        processorName: o.processor,
        executeType: o.execute,
        timeExpressionType: o.schedule,
        timeExpression: o.every,
        jobParams: jsonFlag('--params', o.params as string | undefined),
        concurrencyPerWorker: o.concurrency,
      };
      for (const [k, v] of Object.entries(flags)) if (v !== undefined) spec[k] = v;
      spec.timeExpressionType ??= 'API';
      const created = await conn.api.call(apiViews.JobView, 'POST', `/apps/${conn.app}/jobs`, spec);
      print(conn, created, () => `job ${created.id} created (${String(created.spec.name)})`);
    });

  job
    .command('list')
    .description('list the app’s jobs')
    .action(async () => {
      const conn = await connect(globals());
      const { jobs } = await conn.api.call(JobList, 'GET', `/apps/${conn.app}/jobs?limit=1000`);
      print(conn, jobs, () =>
        table(
          ['ID', 'NAME', 'PROCESSOR', 'EXECUTE', 'SCHEDULE', 'ENABLED', 'NEXT FIRE'],
          jobs.map((j) => [
            j.id,
            String(j.spec.name),
            String(j.spec.processorName),
            String(j.spec.executeType),
            `${String(j.spec.timeExpressionType)} ${String(j.spec.timeExpression ?? '')}`.trim(),
            j.enabled ? 'yes' : 'no',
            when(j.nextTriggerAt),
          ]),
        ),
      );
    });

  job
    .command('show <jobId>')
    .description('a job’s spec and its next fire times')
    .action(async (jobId: string) => {
      const conn = await connect(globals());
      const j = await conn.api.call(JobDetail, 'GET', `/apps/${conn.app}/jobs/${jobId}`);
      print(conn, j, () =>
        [
          `job ${j.id}: ${String(j.spec.name)} (${j.enabled ? 'enabled' : 'disabled'})`,
          ...Object.entries(j.spec).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
          `next fire times: ${j.nextTriggers.length ? j.nextTriggers.map(when).join(', ') : 'none'}`,
        ].join('\n'),
      );
    });

  for (const [verb, summary] of [
    ['enable', 'enable a job: its schedule fires again'],
    ['disable', 'disable a job: its schedule stops firing (runs under way go on)'],
  ] as const) {
    job
      .command(`${verb} <jobId>`)
      .description(summary)
      .action(async (jobId: string) => {
        const conn = await connect(globals());
        const j = await conn.api.call(
          apiViews.JobView,
          'POST',
          `/apps/${conn.app}/jobs/${jobId}/${verb}`,
        );
        print(conn, j, () => `job ${j.id} ${verb}d (${String(j.spec.name)})`);
      });
  }

  job
    .command('delete <jobId>')
    .description('delete a job and its history (stops its frequent runs)')
    .action(async (jobId: string) => {
      const conn = await connect(globals());
      await conn.api.call(z.null(), 'DELETE', `/apps/${conn.app}/jobs/${jobId}`);
      print(conn, { id: jobId, deleted: true }, () => `job ${jobId} deleted`);
    });

  job
    .command('run <jobId>')
    .description(
      'run a job now; with --wait, follow it to its end (exit 1 unless it succeeds); ' +
        'with --runs or --count, many runs through the bulk API',
    )
    .option('--params <json>', 'this run’s params as JSON')
    .option('--delay <ms>', 'start after this many milliseconds', positive('--delay'))
    .option('--wait', 'show progress until the run ends, then its result')
    .option(
      '--runs <file>',
      'a JSON array of run bodies ({params?, delayMs?, idempotencyKey?}) from a file, or - for stdin',
    )
    .option('--count <n>', 'this many runs, each with --params and --delay', positive('--count'))
    .action(async (jobId: string, o: RunOptions) => {
      const conn = await connect(globals());
      const body = { params: jsonFlag('--params', o.params), delayMs: o.delay ?? 0 };
      if (o.runs !== undefined || o.count !== undefined) {
        const runs = await manyRuns(o, body);
        const instances = await runInBulk(conn, jobId, runs);
        print(conn, { instances }, () =>
          instances.map((i) => `instance ${i.id} ${i.status}`).join('\n'),
        );
        return;
      }
      const run = await conn.api.call(
        apiViews.InstanceView,
        'POST',
        `/apps/${conn.app}/jobs/${jobId}/run`,
        body,
      );
      if (!o.wait) {
        print(conn, run, () => `instance ${run.id} ${run.status}`);
        return;
      }
      const done = await waitForRun(conn, run.id);
      print(
        conn,
        done,
        () => `instance ${done.id} ${done.status}: ${resultText(done.result) ?? done.reason ?? ''}`,
      );
      if (done.status !== 'SUCCEEDED') process.exitCode = Exit.RUN_FAILED;
    });
}

interface RunOptions {
  params?: string;
  delay?: number;
  wait?: boolean;
  runs?: string;
  count?: number;
}

/** The bodies of --runs (a file or stdin), or --count copies of this run's body. */
async function manyRuns(o: RunOptions, body: Record<string, unknown>): Promise<unknown[]> {
  if (o.wait) throw new CliError('--wait follows one run: not with --runs or --count', Exit.USAGE);
  if (o.runs === undefined) return Array.from({ length: o.count ?? 1 }, () => body);
  if (o.count !== undefined || o.params !== undefined || o.delay !== undefined)
    throw new CliError(
      '--runs gives each run its own body: not with --count, --params or --delay',
      Exit.USAGE,
    );
  const where = o.runs === '-' ? 'stdin' : o.runs;
  let text: string;
  try {
    text = o.runs === '-' ? await readStdin() : await readFile(o.runs, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${where}: ${(err as Error).message}`, Exit.USAGE);
  }
  let runs: unknown;
  try {
    runs = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${where} is not valid JSON: ${(err as Error).message}`, Exit.USAGE);
  }
  if (!Array.isArray(runs) || runs.length === 0)
    throw new CliError(`${where} must hold a JSON array of run bodies (at least one)`, Exit.USAGE);
  return runs;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * POSTs the runs to the bulk API, MAX_RUNS_PER_CALL at a time (the server
 * checks each call whole before creating any of its runs).
 */
async function runInBulk(
  conn: Awaited<ReturnType<typeof connect>>,
  jobId: string,
  runs: unknown[],
): Promise<z.output<typeof apiViews.InstanceView>[]> {
  const instances: z.output<typeof apiViews.InstanceView>[] = [];
  for (let i = 0; i < runs.length; i += MAX_RUNS_PER_CALL) {
    const chunk = runs.slice(i, i + MAX_RUNS_PER_CALL);
    try {
      const answer = await conn.api.call(
        apiViews.RunsView,
        'POST',
        `/apps/${conn.app}/jobs/${jobId}/runs`,
        { runs: chunk },
      );
      instances.push(...answer.instances);
    } catch (err) {
      if (!(err instanceof CliError) || i === 0) throw err;
      // Its runs[k] is run i + k of the whole list; the calls before it stand.
      throw new CliError(
        `runs ${i}..${i + chunk.length - 1} (runs[k] below is run ${i} + k) were refused; ` +
          `the ${i} before them were created:\n${err.message}`,
        err.exitCode,
      );
    }
  }
  return instances;
}
