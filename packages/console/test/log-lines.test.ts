import { describe, expect, it } from 'vitest';
import { mergeLogLines } from '../src/runs/log-lines.js';

const line = (id: string) => ({
  id,
  ts: Number(id),
  level: 'info',
  message: `m${id}`,
  workerId: 'w',
  taskId: null,
});

describe('mergeLogLines', () => {
  it('keeps each line once in id order when a live batch overlaps the page read', () => {
    const page = [line('8'), line('9'), line('10')];
    const live = [line('10'), line('11'), line('7')];
    expect(mergeLogLines(page, live).map((l) => l.id)).toEqual(['7', '8', '9', '10', '11']);
  });

  it('keeps only the newest lines past the limit', () => {
    const shown = [line('1'), line('2'), line('3')];
    expect(mergeLogLines(shown, [line('4')], 2).map((l) => l.id)).toEqual(['3', '4']);
  });
});
