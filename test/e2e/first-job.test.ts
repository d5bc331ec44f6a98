import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ReadyProcess, spawnReady, stopProcess } from '../harness/process.js';

// docs/first-job.md, run as a newcomer would: its files written where it says,
// its shell lines run by bash in that order, with the checkout's scripts/ on
// PATH and HOME in a temp dir, the data dir in it (fresh). Every command must
// have an expectation below, so the page cannot grow a command no test runs.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGE = join(ROOT, 'docs/first-job.md');

interface Expectation {
  /** Output (stdout and stderr) must match. */
  output: RegExp;
  /** Waits for this before running the command (the page says "within five seconds"). */
  before?: () => Promise<void>;
}

/** Long-running commands: started, awaited until ready, stopped at the end. */
const LONG_RUNNING: [RegExp, RegExp][] = [
  [/^drover up\b/, /Ctrl-C stops everything/],
  [/^drover-worker\b/, /drover-worker running/],
];

let home: string;
let work: string;
const running: ReadyProcess[] = [];

/** The cluster `drover up` wrote in the fresh home's data dir. */
async function api(path: string): Promise<unknown> {
  const dataDir = join(home, '.drover');
  const cluster = JSON.parse(await readFile(join(dataDir, 'cluster.json'), 'utf8'));
  const { app, secret } = JSON.parse(await readFile(join(dataDir, 'credentials.json'), 'utf8'));
  const res = await fetch(`${cluster.serverUrl}/api/v1/apps/${app}${path}`, {
    headers: { authorization: `Bearer ${secret}` },
  });
  return res.json();
}

const untilSucceeded = (instanceId: string) => () =>
  vi.waitFor(
    async () => {
      const i = (await api(`/instances/${instanceId}`)) as { status?: string };
      if (i.status !== 'SUCCEEDED') throw new Error(`instance ${instanceId}: ${i.status}`);
    },
    { timeout: 30_000, interval: 200 },
  );

const EXPECTED: Record<string, Expectation> = {
  'export PATH="$DROVER_CHECKOUT/scripts:$PATH"': { output: /^$/ },
  'drover job create --name greet-ada --processor greet --schedule CRON --every \'*/5 * * * * *\' --params \'{"name":"Ada"}\'':
    { output: /job 1 created \(greet-ada\)/ },
  'drover job create -f job.yaml': { output: /job 2 created \(greet-grace\)/ },
  'drover job list': { output: /greet-ada[\s\S]*greet-grace/ },
  'drover instance list --job 1': {
    before: untilSucceeded('1'),
    output: /SUCCEEDED/,
  },
  'drover instance show 1': { output: /SUCCEEDED[\s\S]*hello, Ada/ },
  'drover instance logs 1': { output: /INFO .*greeting Ada \(run attempt 1\)/ },
  'drover job run 2 --params \'{"name":"Linus"}\' --wait': { output: /succeeded: hello, Linus/ },
  'drover worker list': { output: /my-laptop\s+yes/ },
  'drover job disable 1': { output: /job 1 disabled \(greet-ada\)/ },
  'drover job delete 2': { output: /job 2 deleted/ },
};

interface Block {
  lang: string;
  text: string;
}

function blocks(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1] as string,
    text: m[2] as string,
  }));
}

/** Runs one shell line in `work` to its end. */
function sh(line: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', line], {
      cwd: work,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out }));
  });
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'drover-first-job-home-'));
  // Postgres runs as the postgres user under root: it must pass through the home.
  await chmod(home, 0o711);
  work = await mkdtemp(join(tmpdir(), 'drover-first-job-'));
});
afterAll(async () => {
  for (const p of running.reverse()) await stopProcess(p, 'SIGTERM', 20_000);
  await rm(home, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

describe('docs/first-job.md', () => {
  it('works as written, every command in order', { timeout: 240_000 }, async () => {
    const env: NodeJS.ProcessEnv = {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DROVER_'))),
      HOME: home,
      // The page's default data dir is ~/.drover (root: /var/lib/drover): keep the test's in temp.
      DROVER_DATA_DIR: join(home, '.drover'),
      DROVER_CHECKOUT: ROOT.replace(/\/$/, ''),
    };
    const ran = new Set<string>();
    let prelude = '';
    for (const block of blocks(await readFile(PAGE, 'utf8'))) {
      const lines = block.text.split('\n').filter((l) => l.trim() !== '');
      const named = lines[0]?.match(/^(?:\/\/|#) (\S+\.\w+)$/);
      if (block.lang !== 'sh') {
        // A file the page asks for, named on its first line.
        if (!named?.[1]) continue;
        await mkdir(dirname(join(work, named[1])), { recursive: true });
        await writeFile(join(work, named[1]), block.text);
        continue;
      }
      const last = lines.at(-1) as string;
      const long = LONG_RUNNING.find(([command]) => command.test(last));
      if (long) {
        // Started like the page says, in its own terminal: the block's lines in one shell.
        // `drover up` gets --port 0 so this test never collides with a busy 7700.
        const script = [
          ...lines.slice(0, -1),
          `exec ${last}${/^drover up\b/.test(last) ? ' --port 0' : ''}`,
        ];
        running.push(
          await spawnReady('bash', ['-c', `${prelude}\n${script.join('\n')}`], {
            cwd: work,
            env,
            ready: long[1],
            timeoutMs: 90_000,
          }),
        );
        for (const l of lines) ran.add(l);
        continue;
      }
      for (const line of lines) {
        const expected = EXPECTED[line];
        if (!expected) throw new Error(`no expectation for the page's command: ${line}`);
        await expected.before?.();
        const { code, out } = await sh(`${prelude}\n${line}`, env);
        expect({ line, code }).toEqual({ line, code: 0 });
        expect(out, line).toMatch(expected.output);
        ran.add(line);
        // `export` lines hold for the rest of the page, as in one terminal.
        if (line.startsWith('export ')) prelude += `${line}\n`;
      }
    }
    expect([...Object.keys(EXPECTED)].filter((c) => !ran.has(c))).toEqual([]);
  });
});
