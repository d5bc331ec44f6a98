import { apiViews } from '@drover/protocol';
import type { z } from 'zod';
import { CliError, Exit } from './exit-codes.js';

const STATUS_EXIT: Record<number, number> = {
  400: Exit.USAGE,
  401: Exit.UNAUTHORIZED,
  403: Exit.UNAUTHORIZED,
  404: Exit.NOT_FOUND,
  409: Exit.USAGE,
  503: Exit.UNAVAILABLE,
};

/**
 * The HTTP API as the CLI uses it: every answer validated with the server's
 * own response schemas, every failure turned into a message that says what
 * to fix and an exit code.
 */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly secret?: string,
  ) {}

  async call<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<z.output<S>> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/api/v1${path}`, {
        method,
        headers: {
          ...(this.secret ? { authorization: `Bearer ${this.secret}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CliError(
        `cannot reach the Drover server at ${this.baseUrl} (${(err as Error).cause ?? (err as Error).message}); ` +
          'is `drover up` running? Point at another with --server or DROVER_SERVER_URL',
        Exit.UNAVAILABLE,
      );
    }
    const text = await res.text();
    const json: unknown = text ? safeJson(text) : null;
    if (!res.ok) throw this.failure(res.status, json);
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new CliError(
        `unexpected answer from ${method} ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        Exit.SERVER_ERROR,
      );
    }
    return parsed.data;
  }

  private failure(status: number, json: unknown): CliError {
    const error = apiViews.ErrorView.safeParse(json);
    const issues = error.success ? (error.data.error.issues ?? []) : [];
    let message = error.success ? error.data.error.message : `HTTP ${status}`;
    if (issues.length) {
      message = `the server refused the request:\n${issues.map((i) => `  ${i.path || '(body)'}: ${i.message}`).join('\n')}`;
    }
    if (status === 401 && /admin token/.test(message))
      message +=
        '\n(set DROVER_ADMIN_TOKEN or DROVER_ADMIN_TOKEN_FILE, or give --admin-token; `drover env` prints the one of `drover up`)';
    else if (status === 401)
      message +=
        '\n(set the app secret with --secret or DROVER_APP_SECRET; `drover up` keeps it in its data dir)';
    return new CliError(message, STATUS_EXIT[status] ?? Exit.SERVER_ERROR);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
