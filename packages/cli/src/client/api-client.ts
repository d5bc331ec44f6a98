import { setTimeout as sleep } from 'node:timers/promises';
import { DroverApiError, DroverClient, DroverUnavailableError } from '@drover/client';
import type { z } from 'zod';
import { CliError, Exit } from './exit-codes.js';

const STATUS_EXIT: Record<number, number> = {
  400: Exit.USAGE,
  401: Exit.UNAUTHORIZED,
  403: Exit.UNAUTHORIZED,
  404: Exit.NOT_FOUND,
  409: Exit.USAGE,
  // A body too large, not JSON, or headers too large: the input is what to fix.
  413: Exit.USAGE,
  415: Exit.USAGE,
  431: Exit.USAGE,
  503: Exit.UNAVAILABLE,
};

/**
 * How long `poll` rides out a server it cannot reach before it gives up: a
 * restart takes seconds, a server away for a minute is down.
 */
export const OUTAGE_MS = 60_000;

/**
 * A server away or restarting (or a proxy before it saying so): what the
 * client's `waitForInstance` rides out (its `isPassing`, not exported).
 */
function isPassing(err: unknown): err is DroverUnavailableError | DroverApiError {
  if (err instanceof DroverUnavailableError) return !LASTING.test(err.reason);
  return err instanceof DroverApiError && [502, 503, 504].includes(err.status);
}

// Failures waiting does not mend: a host name that does not resolve, a certificate refused.
const LASTING = /ENOTFOUND|certificate|CERT_|SSL|ERR_TLS/i;

export interface PollOptions {
  /** Told of each try the server did not answer, with why. */
  onAway?: (reason: string) => void;
  /** Added to the message when it gives up (e.g. how to look again later). */
  hint?: string;
}

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
    /** How long `poll` rides out an unreachable server (tests shorten it). */
    private readonly outageMs = OUTAGE_MS,
  ) {
    // The CLI names the app in each path (and app creation has none), so the client's stays empty.
    this.client = new DroverClient({ url: baseUrl, app: '', secret });
  }

  /** `bodyFrom`: the flag most of the body comes from (`--params`), named when it is too large. */
  async call<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    body?: unknown,
    bodyFrom?: string,
  ): Promise<z.output<S>> {
    try {
      return await this.client.request(schema, method, path, body);
    } catch (err) {
      throw toCliError(err, bodyFrom);
    }
  }

  /**
   * A GET that a wait repeats, riding out a server that cannot be reached or
   * answers 502, 503 or 504 (a restart) by the rules of the client's
   * `waitForInstance`: asked again from 50 ms, backing off to 1 s. Gives up
   * (exit 5) once the server has been away `outageMs`.
   */
  async poll<S extends z.ZodType>(
    schema: S,
    path: string,
    options: PollOptions = {},
  ): Promise<z.output<S>> {
    let awaySince: number | undefined;
    for (let pause = 50; ; pause = Math.min(pause * 2, 1_000)) {
      // From the first try that failed, its own wait (up to the request timeout) included.
      const asked = Date.now();
      try {
        return await this.client.request(schema, 'GET', path);
      } catch (err) {
        if (!isPassing(err)) throw toCliError(err);
        const reason =
          err instanceof DroverUnavailableError ? err.reason : `HTTP ${err.status}: ${err.message}`;
        awaySince ??= asked;
        if (Date.now() - awaySince >= this.outageMs) {
          const seconds = ((Date.now() - awaySince) / 1_000).toFixed(1);
          const why = (toCliError(err) as Error).message;
          throw new CliError(
            `${why}\n(gave up after ${seconds} s of asking again${options.hint ? `; ${options.hint}` : ''})`,
            Exit.UNAVAILABLE,
          );
        }
        options.onAway?.(reason);
        await sleep(pause);
      }
    }
  }
}

/** A refusal's issues, one a line, each under `label` of its path (the path itself by default). */
export function refusedMessage(
  issues: readonly { path: string; message: string }[],
  label: (path: string) => string = (path) => path || '(body)',
): string {
  return `the server refused the request:\n${issues.map((i) => `  ${label(i.path)}: ${i.message}`).join('\n')}`;
}

/** A client error as the CLI reports it: its message with what to set, and its exit code. */
export function toCliError(err: unknown, bodyFrom?: string): unknown {
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
  // The server says `body: larger than…`; the user gave a flag, not a body.
  if (err.status === 413 && bodyFrom) message = message.replace(/^body:/, `${bodyFrom}:`);
  if (err.issues.length) {
    message = refusedMessage(err.issues);
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
