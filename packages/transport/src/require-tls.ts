/** The servers as one list. */
const list = (servers: string | string[]) => (Array.isArray(servers) ? servers : [servers]);

/**
 * nats.js's option that makes TLS required when a URL says `tls://`: by
 * itself it takes the scheme as a plain address and encrypts only when the
 * server offers TLS, so anyone between could drop the offer and read the
 * runs' params and results in clear.
 */
export function requiredTls(servers: string | string[]): { tls?: Record<string, never> } {
  return list(servers).some((url) => /^tls:\/\//i.test(url.trim())) ? { tls: {} } : {};
}

/** nats.js's refusal of a server that offers no TLS to a client that requires it. */
export function isTlsNotOffered(err: unknown): boolean {
  return err instanceof Error && err.message.includes("does not support 'tls'");
}
