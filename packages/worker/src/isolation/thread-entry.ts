import { parentPort, workerData } from 'node:worker_threads';
import { loadProcessors } from '../sdk/load-processors.js';
import type { OnlineLogger } from '../sdk/online-logger.js';
import { isNonRetryable, type MapContext } from '../sdk/processor.js';
import { thrownText } from '../sdk/thrown-text.js';
import { ContextUpdate, type WorkflowHandle } from '../sdk/workflow-context.js';
import { LazyAbort } from '../tracker/abort-source.js';
import { callProcessor } from './call-processor.js';
import { type RunData, type TaskData, taskContext } from './executor.js';
import { StartAt } from './start-at.js';
import type { DoneBatch, FromThread, ScopeData, ToThread } from './thread-messages.js';

// A processor thread: loads the processors modules and runs the tasks the main
// thread hands it, so a processor that hogs the CPU stalls only this thread,
// never the worker's heartbeats.

const port = parentPort;
if (!port) throw new Error('thread-entry runs in a worker thread');
const send = (m: FromThread) => port.postMessage(m);
// A module that fails to load here throws: the main thread hears it and fails fast.
const processors = new Map(
  (await loadProcessors((workerData as { modules: string[] }).modules)).map((p) => [p.name, p]),
);
/** Per scope (a run's tasks): its shared data and abort controller, gone with its last task. */
interface ScopeEntry {
  processor: string;
  run: RunData;
  abort: LazyAbort;
  tasks: number;
}
const scopes = new Map<number, ScopeEntry>();
// Tasks handed over ahead of their time, started at it.
const held = new StartAt();
const maps = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
let nextMapId = 0;

// Results leave in one message per turn of the event loop.
let finished: DoneBatch = { ok: [], values: [], failed: [] };
let flushing = false;
function flushDone(): void {
  flushing = false;
  const batch = finished;
  finished = { ok: [], values: [], failed: [] };
  send({ type: 'done', ...batch });
}
function done(): void {
  if (flushing) return;
  flushing = true;
  setImmediate(flushDone);
}

function openScope({ scope, processor, run }: ScopeData): void {
  const entry = scopes.get(scope);
  if (entry) entry.run = run;
  else scopes.set(scope, { processor, run, abort: new LazyAbort(), tasks: 0 });
}

function leaveScope(entry: ScopeEntry, scope: number): void {
  if (--entry.tasks === 0 && scopes.get(scope) === entry) scopes.delete(scope);
}

function onlineLogger(id: number): OnlineLogger {
  const line = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string) =>
    send({ type: 'log', id, level, message: String(message) });
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

/** A standalone processor's `ctx.workflow`: set checked here (it throws in the processor), sent on. */
function workflowOf(id: number, entry: ScopeEntry): WorkflowHandle | undefined {
  const wf = entry.run.workflow;
  if (!wf || processors.get(entry.processor)?.kind !== 'basic') return undefined;
  const update = new ContextUpdate(wf);
  return {
    ...update.handle(),
    set: (key, value) => {
      update.set(key, value);
      send({ type: 'context', id, key, value });
    },
  };
}

function context(id: number, entry: ScopeEntry, task: TaskData): MapContext<unknown> {
  return taskContext(entry.run, task, {
    workflow: workflowOf(id, entry),
    abort: entry.abort,
    log: onlineLogger(id),
    map: (payloads, taskName) =>
      new Promise<void>((resolve, reject) => {
        const mapId = ++nextMapId;
        maps.set(mapId, { resolve, reject });
        send({ type: 'map', id, mapId, payloads, taskName });
      }),
  });
}

/** Runs one task; its scope counted it already (runBatch). */
async function run(id: number, entry: ScopeEntry, scope: number, task: TaskData): Promise<void> {
  try {
    // Stopped while it waited for its time: it never starts.
    if (entry.abort.aborted) throw entry.abort.reason;
    const processor = processors.get(entry.processor);
    if (!processor)
      throw new Error(`no processor named "${entry.processor}" in this thread's modules`);
    // Checked JSON: a value the thread could not post (a function) would end the thread.
    const value = await callProcessor(processor, context(id, entry, task));
    finished.ok.push(id);
    finished.values.push(value);
  } catch (err) {
    finished.failed.push({ id, message: thrownText(err), nonRetryable: isNonRetryable(err) });
  } finally {
    leaveScope(entry, scope);
    done();
  }
}

function runBatch(m: Extract<ToThread, { type: 'run' }>): void {
  for (const data of m.runs) openScope(data);
  for (let i = 0; i < m.ids.length; i++) {
    const id = m.ids[i] as number;
    const scope = m.scopes[i] as number;
    const entry = scopes.get(scope);
    if (!entry) {
      finished.failed.push({ id, message: 'the run was stopped', nonRetryable: false });
      done();
      continue;
    }
    const taskId = m.taskIds[i] as string;
    const task = {
      taskId,
      taskName: m.taskNames[i] as string,
      attempt: m.attempts[i] as number,
      isRootTask: taskId === 'root',
      payload: m.payloads[i],
    };
    // Counted now: its scope outlives a wait for its time.
    entry.tasks++;
    const startAt = m.startAts[i] ?? 0;
    if (startAt > 0) held.at(startAt, () => void run(id, entry, scope, task));
    else void run(id, entry, scope, task);
  }
}

port.on('message', (m: ToThread) => {
  if (m.type === 'run') {
    runBatch(m);
    // Sent once the loop turns: a processor that blocks it keeps its thread from more tasks.
    const seq = m.seq;
    setImmediate(() => send({ type: 'ack', seq }));
  } else if (m.type === 'ping') send({ type: 'ack', seq: m.seq });
  else if (m.type === 'abort') {
    scopes.get(m.scope)?.abort.abort(new Error(m.reason));
    scopes.delete(m.scope);
  } else if (m.type === 'mapped') {
    const pending = maps.get(m.mapId);
    maps.delete(m.mapId);
    if (m.error) pending?.reject(new Error(m.error));
    else pending?.resolve();
  }
});
send({ type: 'ready' });
