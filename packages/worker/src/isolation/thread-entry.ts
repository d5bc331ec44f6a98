import { parentPort, workerData } from 'node:worker_threads';
import { loadProcessors } from '../sdk/load-processors.js';
import type { MapContext, ProcessOutcome } from '../sdk/processor.js';
import type { FromThread, ToThread } from './thread-messages.js';

// A processor thread: loads the processors module and runs one task at a
// time for the main thread, so a processor that hogs the CPU stalls only this
// thread, never the worker's heartbeats.

const port = parentPort;
if (!port) throw new Error('thread-entry runs in a worker thread');
const send = (m: FromThread) => port.postMessage(m);
const processors = new Map(
  (await loadProcessors((workerData as { module: string }).module)).map((p) => [p.name, p]),
);
const running = new Map<number, AbortController>();
const maps = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
let nextMapId = 0;

async function run(
  id: number,
  name: string,
  task: Extract<ToThread, { type: 'run' }>['task'],
): Promise<void> {
  const abort = new AbortController();
  running.set(id, abort);
  const line = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string) =>
    send({ type: 'log', id, level, message: String(message) });
  const ctx: MapContext<unknown> = {
    ...task,
    signal: abort.signal,
    log: { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') },
    map: (payloads, taskName) =>
      new Promise<void>((resolve, reject) => {
        const mapId = ++nextMapId;
        maps.set(mapId, { resolve, reject });
        send({ type: 'map', id, mapId, payloads, taskName });
      }),
  };
  try {
    const processor = processors.get(name);
    if (!processor) throw new Error(`no processor named "${name}" in this thread's module`);
    const value = await (
      processor.process as (c: MapContext<unknown>) => ProcessOutcome | Promise<ProcessOutcome>
    )(ctx);
    send({ type: 'done', id, ok: true, value: typeof value === 'string' ? value : undefined });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    send({
      type: 'done',
      id,
      ok: false,
      message: e.message,
      nonRetryable: e.name === 'NonRetryableError',
    });
  } finally {
    running.delete(id);
  }
}

port.on('message', (m: ToThread) => {
  if (m.type === 'run') void run(m.id, m.processor, m.task);
  else if (m.type === 'abort') running.get(m.id)?.abort(new Error(m.reason));
  else if (m.type === 'mapped') {
    const pending = maps.get(m.mapId);
    maps.delete(m.mapId);
    if (m.error) pending?.reject(new Error(m.error));
    else pending?.resolve();
  }
});
send({ type: 'ready' });
