import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Processor } from './processor.js';
import { supportTypeScriptFor } from './typescript-modules.js';

const KINDS = ['basic', 'map', 'mapReduce', 'broadcast'];

/** A processors module that cannot be used: the message names the file (and the processor). */
export class ProcessorModuleError extends Error {
  override name = 'ProcessorModuleError';
}

function isProcessor(value: unknown): value is Processor {
  return (
    typeof value === 'object' &&
    value !== null &&
    KINDS.includes((value as Processor).kind) &&
    typeof (value as Processor).name === 'string'
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)
  );
}

/**
 * The processors among a module's exports: named exports, arrays of them, and
 * a default export that is a processor, an array or an object of them (what a
 * CommonJS `module.exports = { … }` becomes).
 */
function processorsIn(mod: Record<string, unknown>): Processor[] {
  return Object.entries(mod)
    .flatMap(([key, v]) =>
      Array.isArray(v)
        ? v
        : key === 'default' && !isProcessor(v) && isPlainObject(v)
          ? Object.values(v)
          : [v],
    )
    .filter(isProcessor);
}

async function importModule(path: string): Promise<Processor[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    const cause = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new ProcessorModuleError(`cannot load processors from ${path}: ${cause}`, { cause: err });
  }
  const found = processorsIn(mod);
  if (found.length === 0)
    throw new ProcessorModuleError(
      `${path} exports no processors (export objects with kind and name, e.g. { kind: 'basic', name, process })`,
    );
  return found;
}

/**
 * Every processor the modules export (paths relative to the working
 * directory, or file: URLs). TypeScript modules are loaded through tsx.
 * Throws a ProcessorModuleError naming the file when a module cannot be
 * imported or exports no processor, and naming the processor and both files
 * when two different processors share a name.
 */
export async function loadProcessors(modules: string | readonly string[]): Promise<Processor[]> {
  const paths = (typeof modules === 'string' ? [modules] : modules).map((m) =>
    m.startsWith('file:') ? fileURLToPath(m) : resolve(m),
  );
  await supportTypeScriptFor(paths);
  const byName = new Map<string, { processor: Processor; path: string }>();
  for (const path of paths) {
    for (const processor of await importModule(path)) {
      const seen = byName.get(processor.name);
      if (!seen) byName.set(processor.name, { processor, path });
      // The same object exported twice (or re-exported by another module) is one processor.
      else if (seen.processor !== processor)
        throw new ProcessorModuleError(
          seen.path === path
            ? `processor "${processor.name}" is exported twice by ${path}`
            : `processor "${processor.name}" is exported by both ${seen.path} and ${path}`,
        );
    }
  }
  return [...byName.values()].map((p) => p.processor);
}
