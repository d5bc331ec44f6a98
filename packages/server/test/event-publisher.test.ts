import { subscribeEvents } from '@drover/transport';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { WorkerRegistry } from '../src/dispatch/worker-registry.js';
import { EventPublisher } from '../src/lifecycle/event-publisher.js';
import type { Instance } from '../src/store/instance-row.js';
import { insertApp } from './support/app-rows.js';

const db = useDatabase();
const nats = useNats();
let pool: pg.Pool;

beforeAll(() => {
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(() => pool.end());

/** Calls `fn` after `depth` microtasks. */
const afterMicrotasks = (depth: number, fn: () => void): void =>
  depth === 0 ? fn() : queueMicrotask(() => afterMicrotasks(depth - 1, fn));

describe('EventPublisher', () => {
  it('publishes the events of an app in the order they happened, also while its name is looked up', async () => {
    const app = await insertApp(pool);
    // The app's name lookup answers only when let through, so events come
    // before, at and after every microtask of its settling.
    let letThrough!: () => void;
    const gate = new Promise<void>((resolve) => {
      letThrough = resolve;
    });
    let looked!: () => void;
    const lookedUp = new Promise<void>((resolve) => {
      looked = resolve;
    });
    const gated = {
      query: async (...args: Parameters<pg.Pool['query']>) => {
        const result = await pool.query(...args);
        looked();
        await gate;
        return result;
      },
    } as unknown as pg.Pool;
    const publisher = new EventPublisher(
      nats.nc,
      gated,
      new WorkerRegistry(10_000),
      testLogger('events'),
    );
    const published: string[] = [];
    const called: string[] = [];
    const depths = 20;
    const all = new Promise<void>((resolve) => {
      const sub = subscribeEvents(
        nats.nc,
        app.name,
        (event) => {
          if (event.type !== 'instance') return;
          published.push(event.instanceId);
          if (published.length === depths + 2) {
            sub.stop();
            resolve();
          }
        },
        testLogger('events'),
      );
    });
    await nats.nc.flush();
    const event = (id: string) => {
      called.push(id);
      publisher.instance({
        id,
        appId: app.id,
        jobId: '1',
        status: 'RUNNING',
        epoch: 1,
        workerId: 'w-1',
        result: null,
        reason: null,
      } as Instance);
    };
    event('1000');
    await lookedUp;
    letThrough();
    // Deepest first: an event called a microtask later, but queued earlier, must not overtake.
    for (let depth = depths - 1; depth >= 0; depth--)
      afterMicrotasks(depth, () => event(`${depth}`));
    await new Promise((resolve) => setImmediate(resolve));
    event('2000'); // long after: the name is known, nothing waits
    await all;
    expect(published).toEqual(called);
  });
});
