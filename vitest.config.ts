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
    // Lets memory tests collect garbage before measuring.
    execArgv: ['--expose-gc'],
  },
});
