import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import { launchBrowser } from '../harness/browser.js';
import { buildConsole } from '../harness/built-binaries.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { type PostgresServer, startPostgres } from '../harness/postgres.js';
import { databaseUrl, prepareTemplate, TEMPLATE_DB } from '../harness/template.js';

// `pnpm console:screenshots`: a real cluster (Postgres, NATS, a server and
// two workers, as the browser test starts them) with some demo data, and a
// PNG of each console page in docs/console/ (1280×800; the overview also at
// 375 px wide, as on a phone). Each shot waits for what its page shows.

const OUT = new URL('../../docs/console/', import.meta.url);
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 812 };

let postgres: PostgresServer | undefined;
let cluster: DroverCluster | undefined;
let browser: Browser | undefined;
const hold = join(tmpdir(), `drover-console-demo-${process.pid}`);

const consoleDir = await mkdtemp(join(tmpdir(), 'drover-console-'));

try {
  await buildConsole(consoleDir);
  postgres = await startPostgres();
  await prepareTemplate(postgres.adminUrl);
  cluster = await startDroverCluster(databaseUrl(postgres.adminUrl, TEMPLATE_DB), {
    workers: ['worker-a', 'worker-b'],
    serverEnv: { DROVER_CONSOLE_DIR: consoleDir },
  });
  const demo = await demoData(cluster);
  browser = await launchBrowser();
  await mkdir(OUT, { recursive: true });
  await shootPages(browser, cluster, demo);
  console.log(`wrote the console's screenshots to ${OUT.pathname}`);
} finally {
  await rm(hold, { force: true });
  await browser?.close();
  await cluster?.stop();
  await postgres?.stop();
  await rm(consoleDir, { recursive: true, force: true });
}

interface Demo {
  heldRun: string;
  workflowRun: string;
}

/** Jobs, finished and running runs, and a workflow run, made through the API. */
async function demoData(c: DroverCluster): Promise<Demo> {
  const base = `/api/v1/apps/${c.app.name}`;
  const post = async (path: string, body: unknown) => {
    const res = await c.app.api.post(`${base}${path}`, body);
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string };
  };
  const job = (spec: Record<string, unknown>) =>
    post('/jobs', { timeExpressionType: 'API', ...spec });
  const run = (jobId: string, params?: unknown) => post(`/jobs/${jobId}/run`, { params });
  const done = (id: string, status: string) =>
    waitForInstance(c.app, id, (i) => i.status === status, 60_000);

  await job({
    name: 'nightly-report',
    processorName: 'echo',
    timeExpressionType: 'CRON',
    timeExpression: '0 0 2 * * *',
    jobParams: { text: 'report' },
  });
  await job({
    name: 'ping-every-5s',
    processorName: 'echo',
    timeExpressionType: 'CRON',
    timeExpression: '*/5 * * * * *',
    jobParams: { text: 'ping' },
  });
  const sum = await job({
    name: 'sum-numbers',
    processorName: 'slow-sum',
    executeType: 'MAP_REDUCE',
  });
  const greet = await job({ name: 'greet', processorName: 'echo' });
  const tail = await job({ name: 'tail-logs', processorName: 'ticker' });
  const fan = await job({
    name: 'fan-out',
    processorName: 'leaves',
    executeType: 'MAP_REDUCE',
    concurrencyPerWorker: 2,
  });

  for (let i = 0; i < 3; i++) await done((await run(sum.id, { leafMs: 5 })).id, 'SUCCEEDED');
  await done((await run(greet.id, { text: 'hello' })).id, 'SUCCEEDED');
  await done((await run(greet.id, { text: 42 })).id, 'FAILED');
  const ticking = await run(tail.id, { ms: 300 });
  await done(ticking.id, 'RUNNING');
  await post(`/instances/${ticking.id}/stop`, {});
  await done(ticking.id, 'STOPPED');
  // Held mid-way (its leaves wait while the file exists): a run page with progress and logs.
  await writeFile(hold, '');
  const held = await run(fan.id, { count: 40, ms: 20, holdWhile: hold });
  await done(held.id, 'RUNNING');

  const step = await job({
    name: 'wf-step',
    processorName: 'workflow-step',
    timeExpressionType: 'WORKFLOW',
  });
  const sumStep = await job({
    name: 'wf-sum',
    processorName: 'workflow-sum',
    executeType: 'MAP_REDUCE',
    timeExpressionType: 'WORKFLOW',
  });
  const workflow = await post('/workflows', {
    name: 'diamond',
    nodes: [
      { id: 'extract', kind: 'job', job: step.id },
      { id: 'sum', kind: 'job', job: sumStep.id, params: { count: 10 } },
      { id: 'check', kind: 'job', job: step.id },
      { id: 'big', kind: 'decision', expression: 'context.sum > 50.0' },
      { id: 'publish', kind: 'job', job: step.id },
      { id: 'alert', kind: 'job', job: step.id },
    ],
    edges: [
      { from: 'extract', to: 'sum' },
      { from: 'extract', to: 'check' },
      { from: 'sum', to: 'big' },
      { from: 'check', to: 'big' },
      { from: 'big', to: 'publish', when: true },
      { from: 'big', to: 'alert', when: false },
    ],
  });
  const wfRun = await post(`/workflows/${workflow.id}/run`, { initParams: { batch: 'demo' } });
  await until(async () => {
    const res = await c.app.api.get(`${base}/workflow-runs/${wfRun.id}`);
    return ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(res.body.status as string);
  }, 'the workflow run to end');
  return { heldRun: held.id, workflowRun: wfRun.id };
}

/** Polls `check` (a database row or an attribute: nothing to await) until true, for 60 s at most. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function signIn(page: Page, c: DroverCluster): Promise<void> {
  await page.goto(`${c.serverUrl}/sign-in`);
  await page.getByLabel('App', { exact: true }).fill(c.app.name);
  await page.getByLabel('Token', { exact: true }).fill(c.app.secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // On a phone the navigation folds behind a Menu button: the page's heading says it loaded.
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: new URL(`${name}.png`, OUT).pathname });
  console.log(`  ${name}.png`);
}

async function shootPages(b: Browser, c: DroverCluster, demo: Demo): Promise<void> {
  const context = await b.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const nav = (name: string) => page.getByRole('navigation').getByRole('link', { name });

  await page.goto(`${c.serverUrl}/sign-in`);
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await shoot(page, 'sign-in');

  await signIn(page, c);
  await page.getByRole('region', { name: 'Runs per minute' }).locator('canvas').first().waitFor();
  await page.getByRole('heading', { name: 'Recent failures' }).waitFor();
  await shoot(page, 'overview');

  await nav('Jobs').click();
  await page.getByRole('row').filter({ hasText: 'nightly-report' }).waitFor();
  await shoot(page, 'jobs');

  // A new job with an error next to its field, and the CRON preview.
  await page.getByRole('link', { name: 'New job' }).click();
  await page.getByLabel('Name', { exact: true }).fill('hourly-cleanup');
  await page.getByLabel('Schedule type').selectOption('CRON');
  await page.getByLabel('Schedule', { exact: true }).fill('0 0 * * * *');
  await page.getByRole('list', { name: 'Next fire times' }).getByRole('listitem').first().waitFor();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('alert').first().waitFor();
  await page.evaluate('window.scrollTo(0, 0)');
  await shoot(page, 'job-form');

  await nav('Runs').click();
  await page.getByRole('link', { name: `#${demo.heldRun}`, exact: true }).waitFor();
  await shoot(page, 'runs');

  await page.getByRole('link', { name: `#${demo.heldRun}`, exact: true }).click();
  await page.getByRole('region', { name: 'Logs' }).getByText(/leaf/).first().waitFor();
  const tasks = page.getByRole('progressbar', { name: 'Tasks' });
  await until(async () => Number(await tasks.getAttribute('aria-valuemax')) > 0, 'task counts');
  await shoot(page, 'run');

  await nav('Workers').click();
  await page.getByRole('row').filter({ hasText: 'worker-b' }).waitFor();
  await shoot(page, 'workers');

  await nav('Workflows').click();
  await page.getByRole('row').filter({ hasText: 'diamond' }).first().waitFor();
  await shoot(page, 'workflows');

  await page.goto(`${c.serverUrl}/workflows/runs/${demo.workflowRun}`);
  await page.getByRole('img', { name: /Workflow graph/ }).waitFor();
  await shoot(page, 'workflow-run');
  await context.close();

  const phone = await b.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
  const small = await phone.newPage();
  small.setDefaultTimeout(30_000);
  await signIn(small, c);
  await small.getByRole('region', { name: 'Runs per minute' }).locator('canvas').first().waitFor();
  await shoot(small, 'overview-phone');
  await phone.close();
}
