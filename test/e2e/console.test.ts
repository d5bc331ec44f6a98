import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  TEST_ADMIN_TOKEN,
  waitForInstance,
} from '../../packages/server/test/support/server-fixture.js';
import { useBrowser } from '../harness/browser.js';
import { buildConsole } from '../harness/built-binaries.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';

// The web console in real Chromium against a real cluster (server, two
// workers, NATS, Postgres): what a user does, selected by role and label
// only (docs/console.md), each step awaited on what the page shows.

const db = useDatabase();
const browser = useBrowser();
let cluster: DroverCluster;
let page: Page;
/** The worker this file kills last (the other keeps the runs going). */
const VICTIM = 'console-w2';
/** What the page shows within these bounds is a live update, not a slow load. */
const SHOWN_MS = 15_000;
/**
 * A killed worker is dead 10 s after its last heartbeat, announced (`lost`
 * event) by the next 1 s sweep; the Workers page reads its list again at
 * once, or at the end of its 2 s window if it just did; + 1 s for the page to
 * read and draw it (docs/guarantees.md).
 */
const LOST_MS = 10_000 + 1_000 + 2_000 + 1_000;

let consoleDir = '';
const BUILD_MARK = '<!-- built by console.test.ts -->';

beforeAll(async () => {
  // Built before the server starts (it looks for index.html then), into a folder of this file's own.
  consoleDir = await mkdtemp(join(tmpdir(), 'drover-console-'));
  await buildConsole(consoleDir);
  // Marks this build, to see that the server serves it (--console-dir).
  await appendFile(join(consoleDir, 'index.html'), `${BUILD_MARK}\n`);
  cluster = await startDroverCluster(db.url, {
    workers: ['console-w1', VICTIM],
    serverEnv: { DROVER_CONSOLE_DIR: consoleDir },
  });
  page = await browser.newPage();
  page.setDefaultTimeout(SHOWN_MS);
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  if (consoleDir) await rm(consoleDir, { recursive: true, force: true });
});
// A failing step leaves a picture of the page, and what it said, for the reader.
afterEach(async ({ task }) => {
  if (task.result?.state !== 'fail' || !page) return;
  const shot = join(tmpdir(), `${uniqueName('console-failure')}.png`);
  await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
  console.error(`page at ${page.url()}: ${shot}\n${browser.errors.join('\n')}`);
});

const api = () => cluster.app.api;
const appPath = () => `/api/v1/apps/${cluster.app.name}`;
const nav = (name: string) => page.getByRole('navigation').getByRole('link', { name });
/** The text of the elements a field's aria-describedby names (its error, its hint). */
async function describedText(field: Locator): Promise<string> {
  const ids = ((await field.getAttribute('aria-describedby')) ?? '').split(/\s+/).filter(Boolean);
  const texts = await Promise.all(
    ids.map((id) => page.locator(`[id="${id}"]`).textContent({ timeout: 1_000 })),
  );
  return texts.join(' ');
}
// Code run in the page is written as strings: this package's TypeScript has no DOM types.
/** Set on the page's window: still there later means the page was never reloaded. */
const markDocument = () => page.evaluate('window.consoleTestMark = 1');
const stillSameDocument = () => page.evaluate('window.consoleTestMark === 1');
const runLink = (id: string) => page.getByRole('link', { name: `#${id}`, exact: true });

async function newRun(processorName: string, extra: Record<string, unknown>, params: unknown) {
  const run = await cluster.run(
    { processorName, name: uniqueName(processorName), ...extra },
    {
      params,
    },
  );
  return run.id as string;
}

describe('the web console in Chromium', () => {
  it('signs in with the app token after refusing a wrong one, keeping it out of the URL', async () => {
    const index = await fetch(`${cluster.serverUrl}/`);
    expect(await index.text()).toContain(BUILD_MARK);
    await page.goto(`${cluster.serverUrl}/`);
    const token = page.getByLabel('Token', { exact: true });
    await page.getByLabel('App', { exact: true }).fill(cluster.app.name);
    await token.fill('not-the-secret-0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /refused/i })
      .waitFor();
    expect(await nav('Overview').count()).toBe(0);

    await token.fill(cluster.app.secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await nav('Overview').waitFor();
    for (const name of ['Jobs', 'Runs', 'Workers', 'Workflows']) await nav(name).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(page.url()).not.toContain(cluster.app.secret);
    expect(await page.evaluate('JSON.stringify(localStorage)')).not.toContain(cluster.app.secret);
  });

  it('signs in with the admin token, opens an app from the list of all, then signs out', async () => {
    const other = await cluster.createApp(uniqueName('other'));
    const admin = await browser.newPage();
    admin.setDefaultTimeout(SHOWN_MS);
    await admin.goto(`${cluster.serverUrl}/sign-in`);
    await admin.getByRole('button', { name: 'Use the admin token instead' }).click();
    await admin.getByLabel('Admin token').fill(TEST_ADMIN_TOKEN);
    await admin.getByRole('button', { name: 'Sign in' }).click();
    const picker = admin.getByLabel('Open which app');
    await picker.getByRole('option', { name: other.name }).waitFor({ state: 'attached' });
    await picker.selectOption(cluster.app.name);
    await admin.getByRole('button', { name: 'Open' }).click();
    // The app's own routes take the admin token too.
    await admin.getByRole('navigation').getByRole('link', { name: 'Workers' }).click();
    await admin.getByRole('row').filter({ hasText: VICTIM }).waitFor();

    await admin.getByRole('button', { name: 'Sign out' }).click();
    await admin.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await admin.evaluate('JSON.stringify(sessionStorage)')).not.toContain(TEST_ADMIN_TOKEN);
    await admin.context().close();
  });

  let cronJob = { id: '', name: uniqueName('cron') };

  it('shows a CRON job error next to its field, then saves it fixed', async () => {
    await nav('Jobs').click();
    await page.getByRole('link', { name: 'New job' }).click();
    await page.getByRole('heading', { name: 'New job' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill(cronJob.name);
    await page.getByLabel('Processor', { exact: true }).fill('echo');
    await page.getByLabel('Schedule type').selectOption('CRON');
    const schedule = page.getByLabel('Schedule', { exact: true });
    await schedule.fill('every two seconds');
    await page.getByLabel('Params (JSON)').fill('{"text":"from the console"}');
    await page.getByRole('button', { name: 'Save' }).click();

    // The summary names the field by its label; the message also shows next to the field.
    await page.getByRole('alert').filter({ hasText: 'Schedule: invalid cron pattern' }).waitFor();
    expect(await schedule.getAttribute('aria-invalid')).toBe('true');
    expect(await describedText(schedule)).toMatch(/invalid cron pattern/);

    // As the pattern is typed, the next fire times are previewed.
    await schedule.fill('*/2 * * * * *');
    const preview = page.getByRole('list', { name: 'Next fire times' }).getByRole('listitem');
    await expect.poll(() => preview.count(), { timeout: SHOWN_MS }).toBeGreaterThan(1);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL((url) => !url.pathname.endsWith('/jobs/new'), { timeout: SHOWN_MS });

    const jobs = await api().get(`${appPath()}/jobs`);
    type Job = { id: string; spec: { name: string; timeExpression: string } };
    const saved = (jobs.body.jobs as Job[]).find((j) => j.spec.name === cronJob.name);
    expect(saved?.spec.timeExpression).toBe('*/2 * * * * *');
    cronJob = { ...cronJob, id: saved?.id as string };
  });

  it("shows the CRON job's runs as they happen, without reloading", async () => {
    await nav('Runs').click();
    await page.getByRole('table').waitFor();
    await markDocument();
    const before = await api().get(`${appPath()}/instances?jobId=${cronJob.id}&limit=100`);
    const known = new Set((before.body.instances as { id: string }[]).map((i) => i.id));
    // The next run the server creates for the job after the page has loaded.
    let fresh = '';
    await expect
      .poll(
        async () => {
          const res = await api().get(`${appPath()}/instances?jobId=${cronJob.id}&limit=100`);
          const ids = (res.body.instances as { id: string }[]).map((i) => i.id);
          fresh = ids.find((id) => !known.has(id)) ?? '';
          return fresh;
        },
        { timeout: SHOWN_MS, interval: 200 },
      )
      .not.toBe('');
    await runLink(fresh).waitFor({ timeout: SHOWN_MS });
    await waitForInstance(cluster.app, fresh, (i) => i.status === 'SUCCEEDED');
    const row = page.getByRole('row').filter({ has: runLink(fresh) });
    await row.getByRole('cell', { name: 'SUCCEEDED', exact: true }).waitFor({ timeout: SHOWN_MS });
    expect(await stillSameDocument()).toBe(true);

    // Disabled from the jobs list, so it stops adding runs.
    await nav('Jobs').click();
    const jobRow = page.getByRole('row').filter({ hasText: cronJob.name });
    await jobRow.getByRole('button', { name: 'Disable' }).click();
    await jobRow.getByRole('button', { name: 'Enable' }).waitFor({ timeout: SHOWN_MS });
    const job = await api().get(`${appPath()}/jobs/${cronJob.id}`);
    expect(job.body.enabled).toBe(false);
  });

  let mapReduceRun = '';

  it("follows a map-reduce run's progress bar to SUCCEEDED", async () => {
    const hold = join(tmpdir(), uniqueName('console-hold'));
    await writeFile(hold, '');
    try {
      mapReduceRun = await newRun(
        'leaves',
        { executeType: 'MAP_REDUCE', concurrencyPerWorker: 2 },
        { count: 20, ms: 10, holdWhile: hold },
      );
      await nav('Runs').click();
      await runLink(mapReduceRun).click({ timeout: SHOWN_MS });
      await page.getByRole('heading', { name: `Run #${mapReduceRun}` }).waitFor();
      await markDocument();
      const status = page.getByRole('status');
      const tasks = page.getByRole('progressbar', { name: 'Tasks' });
      // Held: the tasks are known, not all finished.
      await status.filter({ hasText: 'RUNNING' }).waitFor({ timeout: SHOWN_MS });
      await expect
        .poll(() => tasks.getAttribute('aria-valuemax'), { timeout: SHOWN_MS })
        .toMatch(/^[1-9]\d*$/);
      expect(Number(await tasks.getAttribute('aria-valuenow'))).toBeLessThan(
        Number(await tasks.getAttribute('aria-valuemax')),
      );
    } finally {
      await rm(hold, { force: true });
    }
    await page.getByRole('status').filter({ hasText: 'SUCCEEDED' }).waitFor({ timeout: SHOWN_MS });
    const tasks = page.getByRole('progressbar', { name: 'Tasks' });
    await expect
      .poll(
        async () => [
          await tasks.getAttribute('aria-valuenow'),
          await tasks.getAttribute('aria-valuemax'),
        ],
        { timeout: SHOWN_MS },
      )
      .toSatisfy(([now, max]) => now !== null && now === max && Number(max) >= 20);
    const history = page.getByRole('list', { name: 'Status history' });
    await history.getByText('SUCCEEDED').first().waitFor();
    expect(await stillSameDocument()).toBe(true);
  });

  let tickerRun = '';

  it("follows a run's logs as they are written, then stops the run", async () => {
    tickerRun = await newRun('ticker', {}, { ms: 200 });
    await waitForInstance(cluster.app, tickerRun, (i) => i.status === 'RUNNING');
    await page.goto(`${cluster.serverUrl}/runs/${tickerRun}`);
    await page.getByRole('heading', { name: `Run #${tickerRun}` }).waitFor();
    await markDocument();
    const logs = page.getByRole('region', { name: 'Logs' });
    const lastTick = async () => {
      const ticks = [...((await logs.textContent()) ?? '').matchAll(/tick (\d+)/g)];
      return Math.max(0, ...ticks.map((m) => Number(m[1])));
    };
    await expect.poll(lastTick, { timeout: SHOWN_MS }).toBeGreaterThan(0);
    const seen = await lastTick();
    // Lines written after the page loaded arrive without a reload.
    await expect.poll(lastTick, { timeout: SHOWN_MS }).toBeGreaterThan(seen + 3);
    expect(await stillSameDocument()).toBe(true);

    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'STOPPED' }).waitFor({ timeout: SHOWN_MS });
    const stopped = await waitForInstance(cluster.app, tickerRun, (i) => i.status === 'STOPPED');
    expect(stopped.status).toBe('STOPPED');
    await page.getByRole('button', { name: 'Stop', exact: true }).waitFor({ state: 'detached' });
  });

  it('filters runs by status and by job', async () => {
    await nav('Runs').click();
    await runLink(tickerRun).waitFor({ timeout: SHOWN_MS });
    await runLink(mapReduceRun).waitFor();

    await page.getByLabel('Status', { exact: true }).selectOption('STOPPED');
    await runLink(mapReduceRun).waitFor({ state: 'detached', timeout: SHOWN_MS });
    await runLink(tickerRun).waitFor();
    const statuses = await page.getByRole('table').getByRole('cell').allTextContents();
    expect(statuses).not.toContain('SUCCEEDED');

    await page.getByLabel('Status', { exact: true }).selectOption({ index: 0 });
    await page.getByLabel('Job', { exact: true }).selectOption({ label: cronJob.name });
    await runLink(tickerRun).waitFor({ state: 'detached', timeout: SHOWN_MS });
    const cronRuns = await api().get(`${appPath()}/instances?jobId=${cronJob.id}&limit=1`);
    await runLink(cronRuns.body.instances[0].id).waitFor({ timeout: SHOWN_MS });
    expect(await runLink(mapReduceRun).count()).toBe(0);
  });

  it('shows a worker lost after its process is killed with SIGKILL', async () => {
    await nav('Workers').click();
    const row = (id: string) => page.getByRole('row').filter({ hasText: id });
    await row(VICTIM).getByRole('cell', { name: 'alive', exact: true }).waitFor();
    await markDocument();
    const killedAt = Date.now();
    cluster.workers.get(VICTIM)?.child.kill('SIGKILL');
    await row(VICTIM)
      .getByRole('cell', { name: 'lost', exact: true })
      .waitFor({ timeout: LOST_MS + 5_000 });
    expect(Date.now() - killedAt).toBeLessThanOrEqual(LOST_MS);
    await row('console-w1').getByRole('cell', { name: 'alive', exact: true }).waitFor();
    expect(await stillSameDocument()).toBe(true);
    expect(browser.errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
  }, 40_000);
});
