import { describe, expect, it } from 'vitest';
import { TaskStore } from '../src/tracker/task-store.js';

const tasks = (ids: string[]) => ids.map((id) => ({ id, name: 'leaf', payload: id }));

describe('task store', () => {
  it('stores a re-sent batch once, and a re-mapped task id once', () => {
    const store = new TaskStore();
    expect(store.addBatch('b1', tasks(['a', 'b']))).toBe(2);
    expect(store.addBatch('b1', tasks(['a', 'b']))).toBe('duplicate');
    expect(store.addBatch('b2', tasks(['b', 'c']))).toBe(1);
    expect(store.progress().total).toBe(3);
  });

  it('counts a result only for the attempt it belongs to', () => {
    const store = new TaskStore();
    store.addBatch('b', tasks(['a']));
    const [first] = store.take('w1', 10);
    expect(first?.attempt).toBe(1);
    store.requeue('a'); // its worker died
    const [second] = store.take('w2', 10);
    expect(second?.attempt).toBe(2);
    expect(store.complete('a', 1, 'SUCCEEDED', 'late, from the dead worker')).toBe(false);
    expect(store.complete('a', 2, 'SUCCEEDED', 'current')).toBe(true);
    expect(store.complete('a', 2, 'SUCCEEDED', 'duplicate report')).toBe(false);
    expect(store.outcomes()).toEqual([
      { taskId: 'a', taskName: 'leaf', status: 'SUCCEEDED', result: 'current' },
    ]);
    expect(store.allFinal).toBe(true);
  });

  it('keeps a task out of the queue during its retry backoff, ignoring a duplicate result', () => {
    const store = new TaskStore();
    store.addBatch('b', tasks(['a']));
    store.take('w1', 10);
    store.backOff('a');
    expect(store.take('w1', 10)).toEqual([]);
    expect(store.complete('a', 1, 'FAILED', 'the same failure, reported twice')).toBe(false);
    store.release('a');
    const [retry] = store.take('w1', 10);
    expect(retry).toMatchObject({ taskId: 'a', attempt: 2 });
  });

  it('runs a pinned task only on its worker', () => {
    const store = new TaskStore();
    store.addBatch('seed', [{ id: 'x', name: 'broadcast', payload: null, pinnedTo: 'w2' }]);
    expect(store.take('w1', 10)).toEqual([]);
    expect(store.take('w2', 10).map((t) => t.taskId)).toEqual(['x']);
  });

  it('dispatches a task taken back from a lost worker before the waiting queue', () => {
    const store = new TaskStore();
    store.addBatch('b', tasks(['a', 'b', 'c', 'd', 'e']));
    expect(store.take('w1', 2).map((t) => t.taskId)).toEqual(['a', 'b']);
    store.requeue('a'); // w1 died holding a and b
    store.requeue('b');
    const next = store.take('w2', 2);
    expect(next.map((t) => t.taskId).sort()).toEqual(['a', 'b']);
    expect(next.every((t) => t.attempt === 2)).toBe(true);
    expect(store.take('w2', 3).map((t) => t.taskId)).toEqual(['c', 'd', 'e']);
  });
});
