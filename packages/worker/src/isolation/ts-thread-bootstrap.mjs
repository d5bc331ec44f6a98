// Running from TypeScript sources (tests, development): Node 20 does not pass
// the tsx import hook on to worker threads, so register it here, then load
// the real thread entry. Built workers start dist/isolation/thread-entry.js
// directly and never use this file.
import { workerData } from 'node:worker_threads';

const { register } = await import('tsx/esm/api');
register();
await import(workerData.entry);
