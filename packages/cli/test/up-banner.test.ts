import { describe, expect, it } from 'vitest';
import { browserOpener } from '../src/commands/open-console.js';
import { banner } from '../src/commands/up-banner.js';
import type { UpCluster } from '../src/up/up.js';

// The `drover up` banner goes to the terminal and to logs people paste:
// an --nats URL's user and password never appear in it.

const cluster: UpCluster = {
  serverUrl: 'http://127.0.0.1:7700',
  natsUrl: 'nats://drover:s3cret@127.0.0.1:4222',
  app: 'demo',
  secret: 'app-secret',
  database: 'external Postgres',
  workerIds: ['up-worker-1'],
  processors: [{ name: 'hello', kind: 'basic' }],
  examples: true,
  stop: async () => undefined,
};

describe('drover up banner', () => {
  it('shows the NATS URL without its credentials', () => {
    const text = banner(cluster, '/data');
    expect(text).toContain('  NATS       nats://127.0.0.1:4222  (monitor');
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('app-secret');
  });
});

describe('drover up and the web console', () => {
  it('prints the console URL', () => {
    expect(banner(cluster, '/data').split('\n')).toContain(
      '  console    http://127.0.0.1:7700/  (sign in as demo with its secret, or with /data/admin-token)',
    );
  });

  it('opens a browser only on a desktop terminal, never in CI, a pipe or an ssh shell', () => {
    const at = (env: NodeJS.ProcessEnv, platform: NodeJS.Platform = 'linux', isTTY = true) =>
      browserOpener({ env, platform, isTTY });
    expect(at({ DISPLAY: ':0' })).toBe('xdg-open');
    expect(at({ WAYLAND_DISPLAY: 'wayland-0' })).toBe('xdg-open');
    expect(at({}, 'darwin')).toBe('open');
    // No desktop (a server, ssh), output not a terminal, CI, or asked not to.
    expect(at({})).toBeNull();
    expect(at({ DISPLAY: ':0' }, 'linux', false)).toBeNull();
    expect(at({ DISPLAY: ':0', CI: 'true' })).toBeNull();
    expect(at({ CI: '1' }, 'darwin')).toBeNull();
    expect(at({}, 'win32')).toBeNull();
  });
});
