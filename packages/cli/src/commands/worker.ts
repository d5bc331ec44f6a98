import { apiViews } from '@drover/protocol';
import type { Command } from 'commander';
import { z } from 'zod';
import { table, when } from '../output/table.js';
import { connect, type GlobalOptions, print } from './context.js';

const WorkerList = z.object({ workers: z.array(apiViews.WorkerView) });

export function workerCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('worker')
    .description('workers')
    .command('list')
    .description('workers the server has heard from, with their health')
    .action(async () => {
      const conn = await connect(globals());
      const { workers } = await conn.api.call(WorkerList, 'GET', `/apps/${conn.app}/workers`);
      print(conn, workers, () =>
        table(
          ['WORKER', 'ALIVE', 'SLOTS FREE', 'CPU LOAD', 'PROCESSORS', 'LAST SEEN'],
          workers.map((w) => [
            w.workerId,
            w.alive ? 'yes' : 'no',
            `${w.metrics.freeSlots}/${w.metrics.totalSlots}`,
            w.metrics.cpuLoad.toFixed(2),
            w.processors.join(','),
            when(w.lastSeenAt),
          ]),
        ),
      );
    });
}
