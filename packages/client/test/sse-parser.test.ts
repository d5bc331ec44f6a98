import { describe, expect, it } from 'vitest';
import { SseParser } from '../src/sse-parser.js';

describe('SseParser', () => {
  it('reads events whose lines and messages are split across chunks', () => {
    const parser = new SseParser();
    const wire =
      'event: instance\ndata: {"a":1}\n\n: ping\n\nevent: log\ndata: {"b":\ndata: 2}\n\n';
    const messages = [...wire].flatMap((char) => parser.push(char));
    expect(messages).toEqual([
      { event: 'instance', data: '{"a":1}' },
      { event: 'log', data: '{"b":\n2}' },
    ]);
  });

  it('takes CRLF and CR line ends, a CRLF split between chunks counting once', () => {
    const parser = new SseParser();
    expect(parser.push('data: x\r')).toEqual([]);
    // The `\n` ends the line `data: x` began: no blank line, so x and y are one message.
    expect(parser.push('\ndata: y\r\n\rdata:z\n\n')).toEqual([
      { event: 'message', data: 'x\ny' },
      { event: 'message', data: 'z' },
    ]);
  });

  it('ignores comments, unknown fields and a message with no data; keeps the last id', () => {
    const parser = new SseParser();
    expect(parser.push(': ping\nretry: 10\nfoo: bar\nevent: worker\n\n')).toEqual([]);
    expect(parser.push('id: 7\ndata\n\n')).toEqual([{ event: 'message', data: '', id: '7' }]);
  });
});
