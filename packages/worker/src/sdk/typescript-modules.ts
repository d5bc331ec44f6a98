import { extname } from 'node:path';
import { FROM_SOURCE } from '../from-source.js';

// Node 20 cannot import TypeScript: when a processors module is one, the tsx
// import hook is registered on this thread (each processor thread does the
// same for itself: Node 20 threads do not inherit hooks).

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);
let registered = false;

/** Registers tsx on this thread, once, if any of these modules is TypeScript. */
export async function supportTypeScriptFor(paths: readonly string[]): Promise<void> {
  if (registered || FROM_SOURCE || !paths.some((p) => TYPESCRIPT.has(extname(p)))) return;
  // Both hooks: a .ts file outside a "type": "module" package loads as CommonJS.
  const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
  esm.register();
  cjs.register();
  registered = true;
}
