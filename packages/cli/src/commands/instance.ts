import { apiViews } from '@drover/protocol';
import { type Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { resultText } from '../output/result-text.js';
import { progressText, table, when } from '../output/table.js';
import { connect, type GlobalOptions, print } from './context.js';

const InstanceList = z.object({
  instances: z.array(apiViews.InstanceView),
  next: z.string().nullable(),
});
const LogPage = z.object({ lines: z.array(apiViews.LogLineView), next: z.string().nullable() });
const FINAL = ['SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED'];
const FOLLOW_MS = 500;

export function instanceCommands(program: Command, globals: () => GlobalOptions): void {
  const instance = program.command('instance').description('inspect, stop, cancel and retry runs');

  instance
    .command('list')
    .description('recent instances, newest first')
    .option('--job <jobId>', 'only this job’s')
    .option('--status <list>', 'only these statuses, comma-separated (e.g. RUNNING,FAILED)')
    .option(
      '--limit <n>',
      'how many (1-1000)',
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 1_000)
          throw new InvalidArgumentError('--limit must be 1-1000');
        return n;
      },
      20,
    )
    .action(async (o: { job?: string; status?: string; limit: number }) => {
      const conn = await connect(globals());
      const query = new URLSearchParams({ limit: String(o.limit) });
      if (o.job) query.set('jobId', o.job);
      if (o.status) query.set('status', o.status);
      const { instances } = await conn.api.call(
        InstanceList,
        'GET',
        `/apps/${conn.app}/instances?${query}`,
      );
      print(conn, instances, () =>
        table(
          ['ID', 'JOB', 'STATUS', 'WORKER', 'TASKS', 'CREATED', 'RESULT'],
          instances.map((i) => [
            i.id,
            i.jobId,
            i.status,
            i.workerId,
            progressText(i.progress),
            when(i.createdAt),
            (resultText(i.result) ?? i.reason ?? '').slice(0, 60),
          ]),
        ),
      );
    });

  instance
    .command('show <instanceId>')
    .description('one instance with its task counts')
    .action(async (id: string) => {
      const conn = await connect(globals());
      const i = await conn.api.call(
        apiViews.InstanceView,
        'GET',
        `/apps/${conn.app}/instances/${id}`,
      );
      print(conn, i, () =>
        [
          `instance ${i.id} of job ${i.jobId}: ${i.status}`,
          `  worker: ${i.workerId ?? '-'} (epoch ${i.epoch}, attempt ${i.runAttempt})`,
          `  tasks: ${i.progress ? `${i.progress.total} total, ${i.progress.succeeded} succeeded, ${i.progress.failed} failed, ${i.progress.running} running` : '-'}`,
          `  created ${when(i.createdAt)}, started ${when(i.startedAt)}, finished ${when(i.finishedAt)}`,
          `  params: ${JSON.stringify(i.params ?? null)}`,
          `  result: ${resultText(i.result) ?? '-'}`,
          ...(i.reason ? [`  reason: ${i.reason}`] : []),
        ].join('\n'),
      );
    });

  instance
    .command('logs <instanceId>')
    .description('the online log lines of an instance; --follow until it ends')
    .option('-f, --follow', 'keep printing new lines until the instance ends')
    .action(async (id: string, o: { follow?: boolean }) => {
      const conn = await connect(globals());
      // Following, a server restarting is waited for (said once per outage), as `job run --wait` does.
      let away = false;
      const get = async <S extends z.ZodType>(schema: S, path: string): Promise<z.output<S>> => {
        if (!o.follow) return conn.api.call(schema, 'GET', path);
        const hint = `\`drover instance logs ${id}\` prints them all again`;
        const onAway = (reason: string) => {
          if (!away) console.error(`server unreachable (${reason}), asking again`);
          away = true;
        };
        const answer = await conn.api.poll(schema, path, { onAway, hint });
        away = false;
        return answer;
      };
      let after: string | null = null;
      /** Prints every line after the last one printed; true when there may be more at once. */
      const drain = async (): Promise<void> => {
        for (;;) {
          const query = new URLSearchParams({ limit: '1000', ...(after ? { after } : {}) });
          const page: z.output<typeof LogPage> = await get(
            LogPage,
            `/apps/${conn.app}/instances/${id}/logs?${query}`,
          );
          for (const l of page.lines) {
            console.log(
              conn.json
                ? JSON.stringify(l)
                : `${when(l.ts)} ${l.level.toUpperCase().padEnd(5)} [${l.workerId}${l.taskId ? ` ${l.taskId}` : ''}] ${l.message}`,
            );
          }
          after = page.next;
          if (page.lines.length < 1_000) return;
        }
      };
      await drain();
      if (!o.follow) return;
      for (;;) {
        const i = await get(apiViews.InstanceView, `/apps/${conn.app}/instances/${id}`);
        // Lines shipped just before the end land before its final state: one last page.
        await drain();
        if (FINAL.includes(i.status)) return;
        await new Promise((r) => setTimeout(r, FOLLOW_MS));
      }
    });

  for (const [verb, summary] of [
    ['stop', 'stop an unfinished instance'],
    ['cancel', 'cancel an instance that has not started (e.g. a delayed run)'],
    ['retry', 'run a finished instance again (a new instance)'],
  ] as const) {
    instance
      .command(`${verb} <instanceId>`)
      .description(summary)
      .action(async (id: string) => {
        const conn = await connect(globals());
        const i = await conn.api.call(
          apiViews.InstanceView,
          'POST',
          `/apps/${conn.app}/instances/${id}/${verb}`,
        );
        print(
          conn,
          i,
          () => `instance ${i.id} ${i.status}${verb === 'retry' ? ` (retry of ${id})` : ''}`,
        );
      });
  }
}
