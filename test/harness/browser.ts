import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

/** Debian's Chromium (scripts/setup.sh installs it): Playwright's own download needs the internet. */
export const CHROMIUM = '/usr/bin/chromium';

// Headless as root on a closed network: no sandbox (it refuses root), and
// none of Chromium's background connections (update checks, sync, field
// trials), which this machine refuses many at a time, slowing every start.
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * Launches headless Chromium. Playwright gives it a fresh `--user-data-dir`
 * in the temp dir and removes it on `close()`; it kills the browser if this
 * process exits first, so no browser outlives a test run.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    timeout: 60_000,
  });
}

export interface BrowserFixture {
  browser: Browser;
  /**
   * A page in a context of its own (its own sessionStorage), 1280×800 unless
   * told; its uncaught errors are kept in `errors` (a test can expect none).
   */
  newPage(options?: { width?: number; height?: number }): Promise<Page>;
  /** Uncaught page errors and console errors of every page so far. */
  errors: string[];
}

/** One Chromium for the file: launched before its tests, closed after them. */
export function useBrowser(): BrowserFixture {
  const contexts: BrowserContext[] = [];
  const fixture = { errors: [] as string[] } as BrowserFixture;
  fixture.newPage = async ({ width = 1280, height = 800 } = {}) => {
    const context = await fixture.browser.newContext({ viewport: { width, height } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (err) => fixture.errors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') fixture.errors.push(`console: ${msg.text()}`);
    });
    return page;
  };
  beforeAll(async () => {
    fixture.browser = await launchBrowser();
  });
  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close().catch(() => undefined)));
    await fixture.browser?.close();
  });
  return fixture;
}
