// URLs for logs: a nats:// or postgres:// URL may carry user:password, which
// must never reach a log line.

/** The URL with its user, password (and a `password` query parameter) removed. */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.searchParams.delete('password');
    return parsed.toString().replace(/\/$/, '');
  } catch {
    // Not a URL (NATS also takes `host:port`): drop anything before an `@`.
    return url.replace(/^([a-z]+:\/\/)?[^@/]*@/i, '$1');
  }
}

/** One or several servers (NATS takes a list), for a log field. */
export function serversForLog(servers: string | string[]): string {
  return (Array.isArray(servers) ? servers : [servers]).map(withoutCredentials).join(',');
}
