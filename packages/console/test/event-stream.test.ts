import { describe, expect, it } from 'vitest';
import { EventStream, type StreamState } from '../src/live/event-stream.js';
import type { ConsoleEvent } from '../src/live/events.js';

const instanceEvent = {
  type: 'instance',
  app: 'demo',
  instanceId: '12',
  jobId: '3',
  status: 'RUNNING',
  workerId: 'w1',
  epoch: 1,
  result: null,
  reason: null,
  at: 1_700_000_000_000,
};
const logEvent = {
  type: 'log',
  app: 'demo',
  instanceId: '12',
  lines: [{ id: '1', ts: 1, level: 'info', message: 'hello', workerId: 'w1', taskId: null }],
};

/** A response whose body is the given SSE text, sent in small chunks, then ends. */
function sseResponse(text: string): Response {
  const bytes = new TextEncoder().encode(text);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 7) controller.enqueue(bytes.slice(i, i + 7));
      controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
}

describe('EventStream', () => {
  it('delivers validated events, drops invalid ones, reconnects after the stream ends', async () => {
    const calls: RequestInit[] = [];
    const answers = [
      () => Promise.reject(new TypeError('fetch failed')),
      () =>
        Promise.resolve(
          sseResponse(
            `: ping\n\nevent: instance\ndata: ${JSON.stringify(instanceEvent)}\n\nevent: instance\ndata: {"type":"instance"}\n\n`,
          ),
        ),
      () => Promise.resolve(sseResponse(`event: log\ndata: ${JSON.stringify(logEvent)}\n\n`)),
    ];
    const stream = new EventStream({
      url: '/api/v1/apps/demo/events',
      token: 'secret',
      fetch: (_url, init) => {
        calls.push(init);
        const next = answers.shift();
        return next ? next() : new Promise<Response>(() => undefined);
      },
      delays: function* () {
        for (;;) yield 1;
      },
    });
    const states: [StreamState, boolean][] = [];
    stream.onState((state, reconnected) => states.push([state, reconnected]));
    const events: ConsoleEvent[] = [];
    const got = new Promise<void>((resolve) => {
      stream.subscribe((event) => {
        events.push(event);
        if (events.length === 2) resolve();
      });
    });
    await got;
    stream.close();
    expect(events.map((e) => e.type)).toEqual(['instance', 'log']);
    expect(events[1]).toMatchObject({ instanceId: '12', lines: [{ message: 'hello' }] });
    expect(new Headers(calls[0]?.headers).get('authorization')).toBe('Bearer secret');
    // The second open follows a dropped stream: listeners are told to reload.
    expect(states.filter(([s]) => s === 'open')).toEqual([
      ['open', false],
      ['open', true],
    ]);
    expect(states.at(-1)).toEqual(['closed', false]);
  });

  it('stops trying on 401 (the token is no longer good)', async () => {
    let calls = 0;
    const stream = new EventStream({
      url: '/x',
      token: 't',
      fetch: () => {
        calls += 1;
        return Promise.resolve(new Response('{}', { status: 401 }));
      },
    });
    const unauthorized = new Promise<void>((resolve) =>
      stream.onState((state) => state === 'unauthorized' && resolve()),
    );
    const stop = stream.subscribe(() => undefined);
    await unauthorized;
    stop();
    expect(calls).toBe(1);
  });
});
