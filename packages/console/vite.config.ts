import { defaultClientConditions, defineConfig } from 'vite';

// Preact's JSX through esbuild (no Babel); the workspace packages are read from
// their TypeScript source, so the console builds without their dist.
export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  resolve: { conditions: ['drover-source', ...defaultClientConditions] },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, reportCompressedSize: true },
});
