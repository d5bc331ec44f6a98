// The errors a DroverClient throws: each names what went wrong in a field a
// caller can branch on, never only in its message.

/** One problem with a request, as the server names it (e.g. `body.name`). */
export interface ApiIssue {
  path: string;
  message: string;
}

/** The server answered, but not with success (or with an answer that is not the API's). */
export class DroverApiError extends Error {
  override readonly name = 'DroverApiError';
  /** The server's error code (`NOT_FOUND`, `INVALID_INPUT`, ...), or `UNEXPECTED_ANSWER`. */
  readonly code: string;
  /** The HTTP status of the answer. */
  readonly status: number;
  /** Each problem with the request, by field; empty when the server named none. */
  readonly issues: ApiIssue[];
  readonly method: string;
  readonly path: string;

  constructor(init: {
    code: string;
    status: number;
    message: string;
    issues?: ApiIssue[];
    method: string;
    path: string;
  }) {
    super(init.message);
    this.code = init.code;
    this.status = init.status;
    this.issues = init.issues ?? [];
    this.method = init.method;
    this.path = init.path;
  }
}

/** The server could not be reached, or did not answer within `requestTimeoutMs`. */
export class DroverUnavailableError extends Error {
  override readonly name = 'DroverUnavailableError';
  /** The server's base URL. */
  readonly url: string;
  /** Why, in a few words (e.g. `connect ECONNREFUSED 127.0.0.1:1`). */
  readonly reason: string;

  constructor(url: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot reach the Drover server at ${url} (${reason})`, options);
    this.url = url;
    this.reason = reason;
  }
}

/** `waitForInstance` gave up: the instance was not final within `timeoutMs`. */
export class DroverTimeoutError extends Error {
  override readonly name = 'DroverTimeoutError';
  readonly instanceId: string;
  readonly timeoutMs: number;
  /** The status last seen, or null if no answer came. */
  readonly lastStatus: string | null;

  constructor(
    instanceId: string,
    timeoutMs: number,
    lastStatus: string | null,
    /** `what`: what was waited for, default "instance" (e.g. "workflow run"). */
    options?: { cause?: unknown; what?: string },
  ) {
    super(
      `${options?.what ?? 'instance'} ${instanceId} is not final after ${timeoutMs} ms (last seen: ${lastStatus ?? 'no answer'})`,
      options,
    );
    this.instanceId = instanceId;
    this.timeoutMs = timeoutMs;
    this.lastStatus = lastStatus;
  }
}
