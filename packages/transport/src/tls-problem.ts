// Node's codes for a TLS peer certificate it refused, and what an operator can do about each.
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
]);
const OUT_OF_DATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/**
 * What to do about a connection refused for the server's TLS certificate,
 * or undefined for any other failure. Retrying cannot cure these, but the
 * operator can (a new certificate, a trusted CA), so callers keep retrying
 * and say this instead of "not reachable".
 */
export function tlsCertificateProblem(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  if (UNTRUSTED.has(code))
    return 'its TLS certificate is not signed by a CA this process trusts: give the CA in NODE_EXTRA_CA_CERTS (a PEM file)';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return "its TLS certificate does not name the URL's host: use a host name the certificate lists (with an IP address in the URL, nats.js checks the name localhost)";
  if (OUT_OF_DATE.has(code))
    return "its TLS certificate is expired or not yet valid: renew it, or check this machine's clock";
  return undefined;
}
