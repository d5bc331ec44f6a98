import { defaultClientConditions, defineConfig } from 'vite';

// Preact's JSX through esbuild (no Babel); the workspace packages are read from
// their TypeScript source, so the console builds without their dist.
export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  resolve: { conditions: ['drover-source', ...defaultClientConditions] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    reportCompressedSize: true,
    rollupOptions: {
      // @drover/protocol's modules only define things: what the console does not
      // use (the msgpack codec, NATS routes) is left out of the bundle.
      treeshake: { moduleSideEffects: (id) => !/[\\/]packages[\\/]protocol[\\/]/.test(id) },
    },
  },
  server: {
    // `pnpm --filter @drover/console dev` against a server on 7700 (DROVER_URL to change).
    proxy: { '/api': process.env.DROVER_URL ?? 'http://127.0.0.1:7700' },
  },
});
