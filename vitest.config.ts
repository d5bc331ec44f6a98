import { defineConfig } from 'vitest/config';

// `drover-source` makes workspace packages resolve to their TypeScript
// sources, so tests need no build step.
const conditions = ['drover-source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Test files wait far more than they compute (process starts, fault
    // lengths, heartbeats, backoffs), so more files than cores run at once;
    // each has its own database, subjects, cluster NATS and free ports
    // (test/harness/).
    // vitest's default (cores - 1) ran them one at a time on 2 cores.
    maxWorkers: 2,
    // Lets memory tests collect garbage before measuring.
    execArgv: ['--expose-gc'],
  },
});
