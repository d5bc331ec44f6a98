import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { launchBrowser } from './browser.js';
import { commandLine, descendants, isRunning } from './process-tree.js';

// The browser harness: Debian's Chromium, headless, on a fresh profile, and
// nothing of it left once closed.

describe('browser harness', () => {
  it('runs a page in /usr/bin/chromium and leaves no process or profile behind', async () => {
    const browser = await launchBrowser();
    let pids: number[] = [];
    let profile = '';
    try {
      const page = await browser.newPage();
      await page.setContent('<button onclick="this.textContent=\'clicked\'">press</button>');
      await page.getByRole('button', { name: 'press' }).click();
      expect(await page.getByRole('button').textContent()).toBe('clicked');

      pids = descendants(process.pid).filter((p) => commandLine(p).includes('/chromium'));
      const main = pids.map(commandLine).find((c) => c.includes('--user-data-dir='));
      expect(main).toContain('--headless');
      expect(main).toContain('--disable-background-networking');
      profile = main?.match(/--user-data-dir=(\S+)/)?.[1] ?? '';
      expect(existsSync(profile)).toBe(true);
    } finally {
      await browser.close();
    }
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.filter(isRunning)).toEqual([]);
    expect(existsSync(profile)).toBe(false);
  });
});
