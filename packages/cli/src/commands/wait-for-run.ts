import { apiViews, FINAL_INSTANCE_STATUSES } from '@drover/protocol';
import type { z } from 'zod';
import { elapsed, progressBar } from '../output/progress-bar.js';
import { paintedState, stateName } from '../output/states.js';
import { progressText } from '../output/table.js';
import { stdoutIsTerminal } from '../output/terminal.js';
import type { Connection } from './context.js';

type Instance = z.output<typeof apiViews.InstanceView>;
const FINAL: readonly string[] = FINAL_INSTANCE_STATUSES;
const POLL_MS = 250;

/**
 * Follows a run to its end. On a terminal, one line redrawn in place: state,
 * progress bar, elapsed time. Otherwise (a pipe, or `--json`, on stderr) a
 * plain line at each change of state or progress, with the elapsed time.
 * A server that cannot be reached for a while (a restart) is waited for.
 */
export async function waitForRun(conn: Connection, id: string): Promise<Instance> {
  const live = !conn.json && stdoutIsTerminal();
  const say = (line: string) => (conn.json ? console.error(line) : console.log(line));
  const started = Date.now();
  let last = '';
  // A server restarting under the wait is said once, and ridden out (ApiClient.poll).
  const onAway = (reason: string) => {
    const line = `  server unreachable (${reason}), asking again`;
    if (live) process.stdout.write(`\r\x1b[2K${line}  ${elapsed(started)}`);
    else if (line !== last) say(`${line} (${elapsed(started)})`);
    last = line;
  };
  for (;;) {
    const instance = await conn.api.poll(
      apiViews.InstanceView,
      `/apps/${conn.app}/instances/${id}`,
      {
        onAway,
        hint: `the run may go on: \`drover instance show ${id}\``,
      },
    );
    const p = instance.progress;
    const final = FINAL.includes(instance.status);
    if (live) {
      const bar = p ? ` ${progressBar(p.succeeded + p.failed, p.total)} ${progressText(p)}` : '';
      // \r and erase-line: the same line, redrawn.
      process.stdout.write(
        `\r\x1b[2K  ${paintedState(instance.status)}${bar}  ${elapsed(started)}${final ? '\n' : ''}`,
      );
    } else {
      const line = `  ${stateName(instance.status)}${p ? `: ${progressText(p)}` : ''}`;
      if (line !== last) say(`${line} (${elapsed(started)})`);
      last = line;
    }
    if (final) return instance;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
