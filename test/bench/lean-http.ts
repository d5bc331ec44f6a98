import { Agent, request } from 'node:http';

/**
 * A JSON POST client on node:http with kept-alive connections, for the pickup
 * phase: it times a run from just before its API call, and undici's `fetch`
 * adds ~0.3 ms of its own to an idle round trip here (0.72 against 0.39 ms
 * p50 at 100 calls/s to a bare node:http server).
 */
export class LeanHttp {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const text = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.baseUrl}${path}`,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
          },
        },
        (res) => {
          let answer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            answer += chunk;
          });
          res.on('end', () => {
            // A body that is not JSON fails this call, not the bench process.
            try {
              resolve({ status: res.statusCode ?? 0, body: answer ? JSON.parse(answer) : {} });
            } catch (err) {
              reject(err);
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(text);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
