import { routes } from '@drover/protocol';
import { Bus, connectNats } from '@drover/transport';
import { pino } from 'pino';
import { startNatsServer } from '../harness/nats-server.js';

// Transport demo (until `drover up` exists): a TaskTracker-style handler stores
// map batches idempotently; a sender ships 1,000,000 numbers in batches with
// reliableAsk, re-sends one batch to show it is stored once, and checks the sum.

const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
const nats = await startNatsServer();
console.log(`nats-server listening on ${nats.url}`);
const tracker = new Bus(await connectNats({ servers: nats.url, name: 'task-tracker', log }), log);
const sender = new Bus(await connectNats({ servers: nats.url, name: 'processor', log }), log);
const address = { app: 'demo', workerId: 'worker-1' };

const stored = new Map<string, number>();
let sum = 0;
const handler = tracker.handle(routes.tt.mapTask, address, (batch, ctx) => {
  const key = ctx.meta.idempotencyKey ?? batch.batchId;
  if (stored.has(key)) return { stored: 0, duplicate: true };
  stored.set(key, batch.tasks.length);
  for (const task of batch.tasks) sum += Number(task.payload);
  return { stored: batch.tasks.length, duplicate: false };
});
await tracker.nc.flush();

const N = 1_000_000;
const BATCH = 10_000;
const started = performance.now();
const replies = await Promise.all(
  Array.from({ length: N / BATCH }, (_, b) =>
    sender.reliableAsk(
      routes.tt.mapTask,
      address,
      {
        instanceId: '1',
        batchId: `batch-${b}`,
        parentTaskId: 'root',
        taskName: 'add',
        tasks: Array.from({ length: BATCH }, (_, i) => ({
          taskId: `${b}-${i}`,
          payload: b * BATCH + i + 1,
        })),
      },
      { deadlineMs: 30_000, idempotencyKey: `batch-${b}` },
    ),
  ),
);
const again = await sender.reliableAsk(
  routes.tt.mapTask,
  address,
  {
    instanceId: '1',
    batchId: 'batch-0',
    parentTaskId: 'root',
    taskName: 'add',
    tasks: [{ taskId: '0-0', payload: 1 }],
  },
  { deadlineMs: 5_000, idempotencyKey: 'batch-0' },
);
const seconds = (performance.now() - started) / 1_000;
const expected = (N * (N + 1)) / 2;
console.log(
  `${replies.length} batches, ${replies.reduce((n, r) => n + r.stored, 0)} tasks stored in ${seconds.toFixed(2)} s; ` +
    `re-sent batch stored again: ${!again.duplicate}`,
);
console.log(`sum 1..${N} = ${sum} (expected ${expected}): ${sum === expected ? 'OK' : 'WRONG'}`);

await handler.stop();
await Promise.all([tracker.nc.close(), sender.nc.close()]);
await nats.stop();
process.exit(sum === expected && again.duplicate ? 0 : 1);
