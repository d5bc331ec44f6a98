import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './api-error.js';

// DNS rebinding: a web page the operator opens can make its own host name
// resolve to 127.0.0.1 and call an API that listens on loopback from the
// browser. The browser still sends the page's name as Host, so an API on
// loopback answers only Hosts that name this machine (or names the operator
// configured, e.g. for a reverse proxy in front of it).

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** Whether `host` (the listen address) is a loopback one, where the Host check applies. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** The host name of a Host header, lowercased, without the port (IPv6 keeps its brackets). */
function hostName(header: string): string {
  const name = header.startsWith('[')
    ? header.slice(0, header.indexOf(']') + 1)
    : header.split(':')[0];
  return (name ?? '').toLowerCase();
}

/**
 * An onRequest check: loopback names must carry the listening port; a
 * configured name may come with any port (a proxy may drop it).
 */
export function hostCheck(allowedHosts: readonly string[], port: () => number) {
  const configured = new Set(allowedHosts.map((h) => hostName(h)));
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.host ?? '';
    const name = hostName(header);
    if (configured.has(name)) return;
    if (LOOPBACK_NAMES.includes(name) && header.toLowerCase() === `${name}:${port()}`) return;
    throw new ApiError(
      421,
      'MISDIRECTED_REQUEST',
      `Host "${header.slice(0, 100)}" is not this server: it answers on loopback only to localhost, 127.0.0.1 or [::1] with its port; add other names with --http-allowed-hosts (DROVER_HTTP_ALLOWED_HOSTS)`,
    );
  };
}
