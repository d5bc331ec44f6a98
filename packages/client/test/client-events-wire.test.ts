import { describe, expect, it } from 'vitest';
import { DroverClient } from '../src/index.js';

// events() reads the SSE wire format as a fetch body delivers it: a CRLF
// line break split across two chunks is one line break, so a message whose
// data spans two `data:` lines stays one message.

/** A fetch whose answer streams `chunks` as they are, then ends. */
function streaming(chunks: string[]) {
  return async () =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
          controller.close();
        },
      }),
      { status: 200, headers: { 'content-type': 'text/event-stream' } },
    );
}

describe('DroverClient.events on the wire', () => {
  it('keeps a message whole when a CRLF is split between chunks', async () => {
    const drover = new DroverClient({
      url: 'http://127.0.0.1:1',
      app: 'a',
      secret: 'secret-secret',
      fetch: streaming([
        ': connected\r\n\r\nevent: worker\r\ndata: {"type":"worker","app":"a",\r',
        '\ndata: "workerId":"w1","state":"joined","at":1}\r\n\r\n',
      ]),
    });
    const seen = [];
    for await (const event of drover.events()) seen.push(event);
    expect(seen).toEqual([{ type: 'worker', app: 'a', workerId: 'w1', state: 'joined', at: 1 }]);
  });
});
