import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { clientErrorHandler } from '../src/http/api-error.js';

// What Node's HTTP parser refuses before a request exists is answered on the
// raw socket, which is then destroyed: Node turned the socket's timeout off,
// so a client keeping its side open would otherwise hold the connection.

function fakeSocket() {
  const written: string[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk, _encoding, done) {
      written.push(String(chunk));
      done();
    },
  });
  return { socket, written };
}

const parserError = (code: string) => Object.assign(new Error(code), { code });

describe('a request the HTTP parser refuses', () => {
  it.each([
    ['HPE_INVALID_METHOD', 400, 'INVALID_INPUT'],
    ['HPE_HEADER_OVERFLOW', 431, 'HEADERS_TOO_LARGE'],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'REQUEST_TIMEOUT'],
  ])('%s: answered %i in the API envelope, then the socket destroyed', (code, status, apiCode) => {
    const { socket, written } = fakeSocket();
    clientErrorHandler(parserError(code), socket);
    const [head = '', body = ''] = written.join('').split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
    expect(JSON.parse(body)).toEqual({ error: { code: apiCode, message: expect.any(String) } });
    expect(socket.destroyed).toBe(true);
  });

  it('destroys a socket it can no longer write to, and leaves a reset one alone', () => {
    const ended = fakeSocket();
    ended.socket.end();
    clientErrorHandler(parserError('HPE_INVALID_METHOD'), ended.socket);
    expect(ended.socket.destroyed).toBe(true);
    const reset = fakeSocket();
    clientErrorHandler(parserError('ECONNRESET'), reset.socket);
    expect(reset.written).toEqual([]);
  });
});
