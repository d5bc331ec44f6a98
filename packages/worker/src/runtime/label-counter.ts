import { Counter, type Registry } from 'prom-client';

/** A count not yet handed to prom-client. */
export interface Cell {
  n: number;
}

/**
 * A counter with one label, counted in plain numbers and handed to
 * prom-client at scrape: prom-client's own `inc` (a label child's too)
 * hashes and checks the labels at every call, and a worker counts three
 * times a run.
 */
export class LabelCounter {
  private readonly cells = new Map<string, Cell>();

  constructor(
    name: string,
    help: string,
    label: string,
    registers: Registry[],
    zeros: string[] = [],
  ) {
    const cells = this.cells;
    const counter = new Counter({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        for (const [value, cell] of cells) {
          this.inc({ [label]: value }, cell.n);
          cell.n = 0;
        }
      },
    });
    for (const value of zeros) counter.inc({ [label]: value }, 0);
  }

  /** The count of one label value: add to its `n`. */
  cell(value: string): Cell {
    let cell = this.cells.get(value);
    if (!cell) {
      cell = { n: 0 };
      this.cells.set(value, cell);
    }
    return cell;
  }
}
