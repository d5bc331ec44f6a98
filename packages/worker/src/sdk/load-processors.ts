import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Processor } from './processor.js';

const KINDS = ['basic', 'map', 'mapReduce', 'broadcast'];

function isProcessor(value: unknown): value is Processor {
  return (
    typeof value === 'object' &&
    value !== null &&
    KINDS.includes((value as Processor).kind) &&
    typeof (value as Processor).name === 'string'
  );
}

/** Every processor a module exports: named exports, or arrays of them (e.g. a default export). */
export async function loadProcessors(modulePath: string): Promise<Processor[]> {
  const url = modulePath.startsWith('file:') ? modulePath : pathToFileURL(resolve(modulePath)).href;
  const mod = (await import(url)) as Record<string, unknown>;
  return Object.values(mod)
    .flatMap((v) => (Array.isArray(v) ? v : [v]))
    .filter(isProcessor);
}
