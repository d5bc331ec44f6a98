import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DroverApiError } from '@drover/client';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiClient, toCliError } from '../src/client/api-client.js';
import { CliError } from '../src/client/exit-codes.js';

// How the CLI turns the API's failures into exit codes, and how its waits'
// polls ride out a server that is away for a while (a restart).

const answer = (status: number, message = 'no') =>
  new DroverApiError({
    code: 'X',
    status,
    message,
    method: 'POST',
    path: '/api/v1/apps/a/jobs/1/run',
  });

describe('an answer the input caused', () => {
  it('exits 2 (bad input) for a body too large, not JSON, or headers too large', () => {
    for (const status of [413, 415, 431])
      expect((toCliError(answer(status)) as CliError).exitCode, String(status)).toBe(2);
  });

  it('names the flag the too-large body came from', () => {
    const err = toCliError(
      answer(413, 'body: larger than the 1048576 bytes a request may carry'),
      '--params',
    ) as CliError;
    expect(err.message).toBe('--params: larger than the 1048576 bytes a request may carry');
  });
});

describe('ApiClient.poll', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = undefined;
  });

  /** A server answering each GET with the next of `statuses` (the last one from then on). */
  async function serverAnswering(...statuses: number[]): Promise<string> {
    let n = 0;
    server = createServer((_req, res) => {
      const status = statuses[Math.min(n++, statuses.length - 1)] as number;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          status === 200 ? { ok: true } : { error: { code: 'X', message: `answered ${status}` } },
        ),
      );
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('asks again while the server answers 502, 503 or 504, telling each time', async () => {
    const url = await serverAnswering(503, 502, 504, 200);
    const away: string[] = [];
    const got = await new ApiClient(url).poll(z.object({ ok: z.boolean() }), '/x', {
      onAway: (reason) => away.push(reason),
    });
    expect(got).toEqual({ ok: true });
    expect(away).toEqual([
      'HTTP 503: answered 503',
      'HTTP 502: answered 502',
      'HTTP 504: answered 504',
    ]);
  });

  it('fails at once on an answer that is not a server away', async () => {
    const url = await serverAnswering(404);
    const err = await new ApiClient(url).poll(z.object({}), '/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(3);
  });

  it('gives up (exit 5) once the server has been unreachable its outage time, saying why', async () => {
    // A port that was just listening: nothing answers it now.
    const url = await serverAnswering(200);
    await new Promise((r) => server?.close(r));
    server = undefined;
    const away: string[] = [];
    const err = await new ApiClient(url, undefined, 300)
      .poll(z.object({}), '/x', { onAway: (r) => away.push(r), hint: 'look later' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(5);
    expect((err as CliError).message).toMatch(
      /^cannot reach the Drover server at http:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED.*\); is `drover up` running\?.*\n\(gave up after \d+\.\d s of asking again; look later\)$/,
    );
    expect(away.length).toBeGreaterThan(1);
  });

  it('fails at once on a host name that does not resolve: waiting does not mend it', async () => {
    const away: string[] = [];
    const err = await new ApiClient('http://no-such-host.invalid')
      .poll(z.object({}), '/x', { onAway: (r) => away.push(r) })
      .catch((e: unknown) => e);
    expect((err as CliError).exitCode).toBe(5);
    expect((err as CliError).message).toContain('ENOTFOUND');
    expect(away).toEqual([]);
  });
});
