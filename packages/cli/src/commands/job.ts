import { readFile } from 'node:fs/promises';
import { apiViews } from '@drover/protocol';
import type { Command } from 'commander';
import { z } from 'zod';
import { CliError, Exit } from '../client/exit-codes.js';
import { resultText } from '../output/result-text.js';
import { stateName } from '../output/states.js';
import { table, when } from '../output/table.js';
import { connect, type GlobalOptions, jsonFlag, print, readStdin } from './context.js';
import {
  applySpecFlags,
  integerAtLeast,
  type JobSpecFlags,
  namingFlags,
  specFile,
  withJobSpecFlags,
} from './job-spec-flags.js';
import { waitForRun } from './wait-for-run.js';

const JobList = z.object({
  jobs: z.array(apiViews.JobView),
  next: z.string().nullable().optional(),
});
const JobDetail = apiViews.JobView.extend({ nextTriggers: z.array(z.number()) });
const Preview = z.object({ times: z.array(z.number()) });
// What one call of the bulk run API takes.
const MAX_RUNS_PER_CALL = 1_000;

export function jobCommands(program: Command, globals: () => GlobalOptions): void {
  const job = program.command('job').description('create, inspect and run jobs');

  withJobSpecFlags(
    job
      .command('create')
      .description('create a job from flags or a JSON/YAML file (flags override the file)'),
  ).action(async (o: JobSpecFlags) => {
    const conn = await connect(globals());
    const spec = await applySpecFlags(o.file ? await specFile(o.file) : {}, o);
    spec.timeExpressionType ??= 'API';
    const created = await namingFlags(
      conn.api.call(apiViews.JobView, 'POST', `/apps/${conn.app}/jobs`, spec),
    );
    print(conn, created, () => `job ${created.id} created (${String(created.spec.name)})`);
  });

  withJobSpecFlags(
    job
      .command('update <jobId>')
      .description(
        'change a job: its current spec with the flags given laid over it ' +
          '(with -f, the file replaces the spec, then the flags)',
      ),
  ).action(async (jobId: string, o: JobSpecFlags) => {
    const conn = await connect(globals());
    const base = o.file
      ? await specFile(o.file)
      : (await conn.api.call(JobDetail, 'GET', `/apps/${conn.app}/jobs/${jobId}`)).spec;
    const spec = await applySpecFlags(base, o);
    const updated = await namingFlags(
      conn.api.call(apiViews.JobView, 'PUT', `/apps/${conn.app}/jobs/${jobId}`, spec),
    );
    print(conn, updated, () => `job ${updated.id} updated (${String(updated.spec.name)})`);
  });

  withJobSpecFlags(
    job
      .command('preview')
      .description(
        'the next 5 fire times of a schedule, without saving a job (e.g. --schedule CRON --every "0 0 3 * * *" --time-zone Europe/Paris)',
      ),
  ).action(async (o: JobSpecFlags) => {
    const conn = await connect(globals());
    const spec = await applySpecFlags(o.file ? await specFile(o.file) : {}, o);
    // Only the schedule matters here: stand-ins for what a saved job must name.
    spec.name ??= 'preview';
    spec.processorName ??= 'preview';
    spec.timeExpressionType ??= 'API';
    const { times } = await namingFlags(
      conn.api.call(Preview, 'POST', `/apps/${conn.app}/jobs/preview`, spec),
    );
    print(conn, { times }, () =>
      times.length
        ? times.map((t) => `${when(t)}  (${new Date(t).toISOString()})`).join('\n')
        : 'no fire times',
    );
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
    .option('--params <json>', 'this run’s params as JSON; @file reads a file, @- stdin')
    .option('--delay <ms>', 'start after this many milliseconds', integerAtLeast('--delay', 1))
    .option(
      '--idempotency-key <key>',
      'a run with a key already used for this job is not made again: the first one is shown',
    )
    .option('--wait', 'show progress until the run ends, then its result')
    .option(
      '--runs <file>',
      'a JSON array of run bodies ({params?, delayMs?, idempotencyKey?}) from a file, or - for stdin',
    )
    .option(
      '--count <n>',
      'this many runs, each with --params and --delay',
      integerAtLeast('--count', 1),
    )
    .action(async (jobId: string, o: RunOptions) => {
      const conn = await connect(globals());
      const body = {
        params: await jsonFlag('--params', o.params),
        delayMs: o.delay ?? 0,
        idempotencyKey: o.idempotencyKey,
      };
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
        '--params',
      );
      if (!o.wait) {
        print(conn, run, () => `instance ${run.id} ${run.status}`);
        return;
      }
      const done = await waitForRun(conn, run.id);
      print(
        conn,
        done,
        () =>
          `instance ${done.id} ${stateName(done.status)}: ${resultText(done.result) ?? done.reason ?? ''}`,
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
  idempotencyKey?: string;
}

/** The bodies of --runs (a file or stdin), or --count copies of this run's body. */
async function manyRuns(o: RunOptions, body: Record<string, unknown>): Promise<unknown[]> {
  if (o.wait) throw new CliError('--wait follows one run: not with --runs or --count', Exit.USAGE);
  // n copies of one key are one run, shown n times: no way to ask for that on purpose.
  if (o.idempotencyKey !== undefined && o.runs === undefined)
    throw new CliError(
      '--count makes n runs, --idempotency-key makes one: not both (give each run its own key with --runs)',
      Exit.USAGE,
    );
  if (o.runs === undefined) return Array.from({ length: o.count ?? 1 }, () => body);
  if (
    o.count !== undefined ||
    o.params !== undefined ||
    o.delay !== undefined ||
    o.idempotencyKey !== undefined
  )
    throw new CliError(
      '--runs gives each run its own body: not with --count, --params, --delay or --idempotency-key',
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
