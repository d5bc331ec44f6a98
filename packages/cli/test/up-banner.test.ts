import { describe, expect, it } from 'vitest';
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
