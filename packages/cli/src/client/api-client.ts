import { DroverApiError, DroverClient, DroverUnavailableError } from '@drover/client';
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
 * The HTTP API as the CLI uses it: every call goes through
 * `DroverClient.request` (answers validated there), every failure turned into
 * a message that says what to fix and an exit code.
 */
export class ApiClient {
  private readonly client: DroverClient;

  constructor(
    readonly baseUrl: string,
    secret?: string,
  ) {
    // The CLI names the app in each path (and app creation has none), so the client's stays empty.
    this.client = new DroverClient({ url: baseUrl, app: '', secret });
  }

  async call<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<z.output<S>> {
    try {
      return await this.client.request(schema, method, path, body);
    } catch (err) {
      throw toCliError(err);
    }
  }
}

/** A client error as the CLI reports it: its message with what to set, and its exit code. */
export function toCliError(err: unknown): unknown {
  if (err instanceof DroverUnavailableError) {
    return new CliError(
      `cannot reach the Drover server at ${err.url} (${err.reason}); ` +
        'is `drover up` running? Point at another with --server or DROVER_SERVER_URL',
      Exit.UNAVAILABLE,
    );
  }
  if (!(err instanceof DroverApiError)) return err;
  if (err.code === 'UNEXPECTED_ANSWER') return new CliError(err.message, Exit.SERVER_ERROR);
  let message = err.message;
  if (err.issues.length) {
    message = `the server refused the request:\n${err.issues.map((i) => `  ${i.path || '(body)'}: ${i.message}`).join('\n')}`;
  }
  // Routes only the admin token opens say `needs "Authorization: Bearer <admin token>"`.
  if (err.status === 401 && /Bearer <admin token>/.test(message))
    message +=
      '\n(set DROVER_ADMIN_TOKEN or DROVER_ADMIN_TOKEN_FILE, or give --admin-token; `drover env` prints the one of `drover up`)';
  else if (err.status === 401)
    message +=
      '\n(set the app secret with --secret or DROVER_APP_SECRET; `drover up` keeps it in its data dir)';
  // The server's code and issues go into the --json error envelope as they came.
  return new CliError(message, STATUS_EXIT[err.status] ?? Exit.SERVER_ERROR, {
    code: err.code,
    issues: err.issues,
  });
}
