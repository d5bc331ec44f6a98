import { describe, expect, it } from 'vitest';
import { deriveStatusHistory } from '../src/runs/status-history.js';

const base = {
  status: 'WAITING_DISPATCH',
  createdAt: 1_000,
  dispatchedAt: null,
  startedAt: null,
  finishedAt: null,
  workerId: null,
} as const;

describe('deriveStatusHistory', () => {
  it('reads the steps from the instance timestamps, the current status last', () => {
    const history = deriveStatusHistory({
      ...base,
      status: 'SUCCEEDED',
      dispatchedAt: 2_000,
      startedAt: 2_500,
      finishedAt: 9_000,
      workerId: 'w1',
    });
    expect(history.map((e) => [e.status, e.at])).toEqual([
      ['WAITING_DISPATCH', 1_000],
      ['WAITING_WORKER_RECEIVE', 2_000],
      ['RUNNING', 2_500],
      ['SUCCEEDED', 9_000],
    ]);
  });

  it('adds live events, merging one that repeats a timestamped step', () => {
    const history = deriveStatusHistory(
      { ...base, status: 'RUNNING', dispatchedAt: 20_000, startedAt: 20_100, workerId: 'w2' },
      [
        // An earlier dispatch whose worker was lost: the timestamps kept only the second.
        { status: 'RUNNING', at: 5_000, workerId: 'w1' },
        { status: 'WAITING_DISPATCH', at: 12_000, workerId: null },
        { status: 'RUNNING', at: 20_300, workerId: 'w2' },
      ],
    );
    expect(history.map((e) => [e.status, e.at, e.workerId ?? null])).toEqual([
      ['WAITING_DISPATCH', 1_000, null],
      ['RUNNING', 5_000, 'w1'],
      ['WAITING_DISPATCH', 12_000, null],
      ['WAITING_WORKER_RECEIVE', 20_000, 'w2'],
      ['RUNNING', 20_100, 'w2'],
    ]);
  });

  it('ends with the current status even when no timestamp records it', () => {
    const history = deriveStatusHistory({ ...base, status: 'WAITING_WORKER' });
    expect(history.map((e) => [e.status, e.at])).toEqual([
      ['WAITING_DISPATCH', 1_000],
      ['WAITING_WORKER', null],
    ]);
  });

  it('shows a run canceled before it started as created then CANCELED', () => {
    const history = deriveStatusHistory({ ...base, status: 'CANCELED', finishedAt: 3_000 });
    expect(history.map((e) => e.status)).toEqual(['WAITING_DISPATCH', 'CANCELED']);
  });
});
