import { describe, expect, it } from 'vitest';
import { NATS_TLS_ADVICE, tlsCertificateProblem } from '../src/tls-problem.js';

const failure = (code: string) => Object.assign(new Error('refused'), { code });

describe('tlsCertificateProblem', () => {
  it('names what to do about each kind of refused certificate', () => {
    for (const code of [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
    ])
      expect(tlsCertificateProblem(failure(code), NATS_TLS_ADVICE)).toMatch(/NODE_EXTRA_CA_CERTS/);
    expect(tlsCertificateProblem(failure('ERR_TLS_CERT_ALTNAME_INVALID'), NATS_TLS_ADVICE)).toMatch(
      /does not name the URL's host/,
    );
    expect(tlsCertificateProblem(failure('CERT_HAS_EXPIRED'), NATS_TLS_ADVICE)).toMatch(/expired/);
    const unfit = Object.assign(new Error('unsuitable certificate purpose'), {
      code: 'INVALID_PURPOSE',
    });
    expect(tlsCertificateProblem(unfit, NATS_TLS_ADVICE)).toMatch(
      /was refused \(unsuitable certificate purpose\)/,
    );
  });

  it('says nothing of other failures', () => {
    expect(tlsCertificateProblem(failure('ECONNREFUSED'), NATS_TLS_ADVICE)).toBeUndefined();
    expect(tlsCertificateProblem(new Error('timeout'), NATS_TLS_ADVICE)).toBeUndefined();
    expect(tlsCertificateProblem(undefined, NATS_TLS_ADVICE)).toBeUndefined();
  });
});
