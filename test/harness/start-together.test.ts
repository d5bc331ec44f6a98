import { expect, it } from 'vitest';
import { startTogether } from './start-together.js';

// Benches start nats-server and Postgres side by side: one failing must not
// leave the other running.

const service = (name: string, stopped: string[]) => ({
  name,
  stop: async () => {
    stopped.push(name);
  },
});

it('stops the service that started when the other fails, and throws that failure', async () => {
  const stopped: string[] = [];
  const failure = new Error('initdb failed');
  await expect(
    startTogether(
      async () => service('nats', stopped),
      async () => {
        throw failure;
      },
    ),
  ).rejects.toBe(failure);
  expect(stopped).toEqual(['nats']);
});

it('gives both when both start, stopping neither', async () => {
  const stopped: string[] = [];
  const [nats, postgres] = await startTogether(
    async () => service('nats', stopped),
    async () => service('postgres', stopped),
  );
  expect([nats.name, postgres.name]).toEqual(['nats', 'postgres']);
  expect(stopped).toEqual([]);
});
