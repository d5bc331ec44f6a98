import { spawn } from 'node:child_process';

// `drover up` opens the web console for a person at a desktop, and never
// where no one looks at a browser (CI, tests, ssh sessions, pipes).

export interface OpenContext {
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  /** Whether stdout is a terminal (a person reads it). */
  isTTY: boolean;
}

/** The command that opens a URL in the desktop's browser, or null where none should. */
export function browserOpener(ctx: OpenContext): string | null {
  if (!ctx.isTTY || ctx.env.CI) return null;
  if (ctx.platform === 'darwin') return 'open';
  if (ctx.platform === 'win32') return null;
  return ctx.env.DISPLAY || ctx.env.WAYLAND_DISPLAY ? 'xdg-open' : null;
}

/** Opens `url` with `opener`, detached; a missing opener or browser only loses the convenience. */
export function openInBrowser(opener: string, url: string): void {
  try {
    const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // Not there: the URL is printed anyway.
  }
}
