/** A tiny HTTP client for tests: status and parsed JSON body of each call. */
export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  withToken(token: string): ApiClient {
    return new ApiClient(this.baseUrl, token);
  }

  async call<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as T) : (undefined as T) };
  }

  get<T = any>(path: string) {
    return this.call<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown) {
    return this.call<T>('POST', path, body ?? {});
  }
  put<T = any>(path: string, body: unknown) {
    return this.call<T>('PUT', path, body);
  }
  delete<T = any>(path: string) {
    return this.call<T>('DELETE', path);
  }
}

/** Waits for /readyz to say `ready`; readiness is a state, not an event, so this polls it. */
export async function readyzUntil(
  api: ApiClient,
  ready: boolean,
): Promise<Record<string, unknown>> {
  for (;;) {
    const res = await api.get('/readyz');
    if (res.body.ready === ready) return res.body;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits for /readyz's body to satisfy `predicate` (e.g. one dependency up), failing after `timeoutMs`. */
export async function readyzWhere(
  api: ApiClient,
  predicate: (body: Record<string, unknown>) => boolean,
  timeoutMs = 10_000,
): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await api.get('/readyz');
    if (predicate(res.body)) return res.body;
    if (Date.now() > until) throw new Error(`/readyz still says ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
