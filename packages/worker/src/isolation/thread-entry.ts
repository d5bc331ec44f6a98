import { parentPort, workerData } from 'node:worker_threads';
import { loadProcessors } from '../sdk/load-processors.js';
import type { MapContext, ProcessOutcome } from '../sdk/processor.js';
import type { FromThread, JobDone, ThreadJob, ToThread } from './thread-messages.js';

// A processor thread: loads the processors module and runs the tasks the main
// thread hands it, so a processor that hogs the CPU stalls only this thread,
// never the worker's heartbeats.

const port = parentPort;
if (!port) throw new Error('thread-entry runs in a worker thread');
const send = (m: FromThread) => port.postMessage(m);
const processors = new Map(
  (await loadProcessors((workerData as { module: string }).module)).map((p) => [p.name, p]),
);
/** One abort controller per scope (a run's tasks share it), gone with its last task. */
const scopes = new Map<number, { controller: AbortController; tasks: number }>();
const maps = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
let nextMapId = 0;

// Results leave in one message per turn of the event loop.
let finished: JobDone[] = [];
function done(result: JobDone): void {
  if (finished.length === 0) setImmediate(flushDone);
  finished.push(result);
}
function flushDone(): void {
  const jobs = finished;
  finished = [];
  send({ type: 'done', jobs });
}

function enterScope(scope: number): AbortSignal {
  let entry = scopes.get(scope);
  if (!entry) {
    entry = { controller: new AbortController(), tasks: 0 };
    scopes.set(scope, entry);
  }
  entry.tasks++;
  return entry.controller.signal;
}

function leaveScope(scope: number): void {
  const entry = scopes.get(scope);
  if (entry && --entry.tasks === 0) scopes.delete(scope);
}

async function run({ id, scope, processor: name, task }: ThreadJob): Promise<void> {
  const line = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string) =>
    send({ type: 'log', id, level, message: String(message) });
  const ctx: MapContext<unknown> = {
    ...task,
    signal: enterScope(scope),
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
    done({ id, ok: true, value: typeof value === 'string' ? value : undefined });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    done({ id, ok: false, message: e.message, nonRetryable: e.name === 'NonRetryableError' });
  } finally {
    leaveScope(scope);
  }
}

port.on('message', (m: ToThread) => {
  if (m.type === 'run') for (const job of m.jobs) void run(job);
  else if (m.type === 'abort') {
    scopes.get(m.scope)?.controller.abort(new Error(m.reason));
    scopes.delete(m.scope);
  } else if (m.type === 'mapped') {
    const pending = maps.get(m.mapId);
    maps.delete(m.mapId);
    if (m.error) pending?.reject(new Error(m.error));
    else pending?.resolve();
  }
});
send({ type: 'ready' });
