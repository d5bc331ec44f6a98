import { DroverApiError } from '@drover/client';
import { describe, expect, it } from 'vitest';
import { toCliError } from '../src/client/api-client.js';
import { CliError } from '../src/client/exit-codes.js';

// A 401 says which secret to set: the app's on app routes (whose message also
// mentions that the admin token works there), the admin token's where only it opens.

const refused = (message: string) =>
  toCliError(
    new DroverApiError({
      code: 'UNAUTHORIZED',
      status: 401,
      message,
      method: 'GET',
      path: '/api/v1/apps/demo/jobs',
    }),
  ) as CliError;

describe('a refused secret', () => {
  it('on an app route names the app secret to set', () => {
    const err = refused(
      'send the app secret (or the admin token) as "Authorization: Bearer <secret>"',
    );
    expect(err).toBeInstanceOf(CliError);
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain('DROVER_APP_SECRET');
    expect(err.message).not.toContain('DROVER_ADMIN_TOKEN');
  });

  it('on a route only the admin token opens names the admin token to set', () => {
    const err = refused(
      `creating apps needs "Authorization: Bearer <admin token>" (the server's DROVER_ADMIN_TOKEN)`,
    );
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain('DROVER_ADMIN_TOKEN_FILE');
    expect(err.message).not.toContain('DROVER_APP_SECRET');
  });
});
