import { styleText } from 'node:util';

// Escape codes (colour, redraws, a progress line) go only to a terminal: a
// pipe or a file gets plain lines a script or a log can read.

/** Stdout is a terminal a person watches (not a pipe, a file, or TERM=dumb). */
export function stdoutIsTerminal(): boolean {
  return process.stdout.isTTY === true && process.env.TERM !== 'dumb';
}

/** Colour on a terminal, unless NO_COLOR is set (https://no-color.org: any non-empty value). */
export function colourOn(): boolean {
  return stdoutIsTerminal() && !process.env.NO_COLOR;
}

type Colour = 'green' | 'red' | 'yellow' | 'cyan' | 'gray';

/**
 * `text` in a colour when colour is on, else as it is. styleText is told not
 * to judge the stream itself: it would drop colour whenever CI is set.
 */
export function paint(colour: Colour, text: string): string {
  return colourOn() ? styleText(colour, text, { validateStream: false }) : text;
}
