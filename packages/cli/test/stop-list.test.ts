import { describe, expect, it } from 'vitest';
import { StopError, StopList } from '../src/up/stop-list.js';

// `drover up` stops its parts last-started first, every one of them even when
// one fails, and names every part that failed.

describe('StopList', () => {
  it('stops every part in reverse order and names those that failed', async () => {
    const order: string[] = [];
    const stops = new StopList();
    stops.add('the lock', async () => {
      order.push('the lock');
    });
    stops.add('postgres', async () => {
      order.push('postgres');
      throw new Error('postgres did not stop within 15 s of SIGINT');
    });
    stops.add('the server', async () => {
      order.push('the server');
    });
    const stopped = stops.stopAll();
    await expect(stopped).rejects.toBeInstanceOf(StopError);
    await expect(stopped).rejects.toThrow(
      'could not stop cleanly: postgres (postgres did not stop within 15 s of SIGINT)',
    );
    expect(order).toEqual(['the server', 'postgres', 'the lock']);
    // Stopped once: a second call has nothing left to stop.
    await stops.stopAll();
    expect(order).toHaveLength(3);
  });
});
