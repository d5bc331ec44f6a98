// Node's codes for a TLS peer certificate it refused.
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
]);
const OUT_OF_DATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
// OpenSSL's other verification failures, as Node names them: the certificate
// or its chain is unfit (purpose, CA flag, length, revoked, rejected).
const REFUSED = new Set([
  'INVALID_PURPOSE',
  'INVALID_CA',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_CHAIN_TOO_LONG',
  'PATH_LENGTH_EXCEEDED',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'HOSTNAME_MISMATCH',
]);

/** What the operator of one kind of connection can do about a refused certificate. */
export interface TlsAdvice {
  /** How to make this process trust the certificate's CA. */
  untrusted: string;
  /** How to make the URL's host match the certificate. */
  wrongHost: string;
}

/** How a NATS client is told to trust a CA, and nats.js's check of an IP address URL. */
export const NATS_TLS_ADVICE: TlsAdvice = {
  untrusted: 'give the CA in NODE_EXTRA_CA_CERTS (a PEM file)',
  wrongHost:
    'use a host name the certificate lists (with an IP address in the URL, nats.js checks the name localhost)',
};

/**
 * What is wrong with the server's TLS certificate, and what to do, when a
 * connection was refused for it; undefined for any other failure. Retrying
 * cannot cure these but the operator can (a trusted CA, a new certificate),
 * so callers keep retrying and say this instead of "not reachable".
 */
export function tlsCertificateProblem(err: unknown, advice: TlsAdvice): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  if (UNTRUSTED.has(code))
    return `its TLS certificate is not signed by a CA this process trusts: ${advice.untrusted}`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `its TLS certificate does not name the URL's host: ${advice.wrongHost}`;
  if (OUT_OF_DATE.has(code))
    return "its TLS certificate is expired or not yet valid: renew it, or check this machine's clock";
  if (REFUSED.has(code)) {
    const reason = err instanceof Error ? err.message : code;
    return `its TLS certificate was refused (${reason}): check the certificate and its chain (purpose: server authentication; issuers: CAs)`;
  }
  return undefined;
}
