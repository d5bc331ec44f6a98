import { apiViews } from '@drover/protocol';
import type { z } from 'zod';
import { elapsed } from '../output/progress-bar.js';
import { paintedState } from '../output/states.js';
import { stdoutIsTerminal } from '../output/terminal.js';
import type { Connection } from './context.js';

type RunDetail = z.output<typeof apiViews.WorkflowRunDetailView>;
type Node = RunDetail['nodes'][number];
const FINAL = ['SUCCEEDED', 'FAILED', 'STOPPED'];
const POLL_MS = 250;

function nodeLine(n: Node): string {
  const what = n.instanceId
    ? ` instance ${n.instanceId}`
    : n.childRunId
      ? ` run ${n.childRunId}`
      : '';
  const attempt = n.attempt > 1 ? ` attempt ${n.attempt}` : '';
  return `${n.nodeId}: ${n.status.toLowerCase()}${what}${attempt}${n.reason ? ` (${n.reason})` : ''}`;
}

/**
 * Follows a workflow run to its end, node by node. On a terminal: the run's
 * line and one line per node, redrawn in place. Otherwise (a pipe, or
 * `--json`, on stderr): a plain line each time a node or the run changes.
 * A server that cannot be reached for a while (a restart) is waited for.
 */
export async function waitForWorkflowRun(conn: Connection, runId: string): Promise<RunDetail> {
  const live = !conn.json && stdoutIsTerminal();
  const say = (line: string) => (conn.json ? console.error(line) : console.log(line));
  const started = Date.now();
  const seen = new Map<string, string>();
  let drawn = 0;
  let away = '';
  // A server restarting under the wait is said once, and ridden out (ApiClient.poll).
  const onAway = (reason: string) => {
    const line = `server unreachable (${reason}), asking again`;
    // On a terminal, on the line below the nodes (erased by the next redraw).
    if (live) process.stdout.write(`\r\x1b[2K${line}  ${elapsed(started)}`);
    else if (line !== away) say(`  ${line} (${elapsed(started)})`);
    away = line;
  };
  for (;;) {
    const run = await conn.api.poll(
      apiViews.WorkflowRunDetailView,
      `/apps/${encodeURIComponent(conn.app)}/workflow-runs/${encodeURIComponent(runId)}`,
      { onAway, hint: `the run may go on: \`drover workflow run show ${runId}\`` },
    );
    away = '';
    const final = FINAL.includes(run.status);
    if (live) {
      // Up over what was drawn last time, then each line erased and written again.
      const lines = [
        `run ${run.id}: ${paintedState(run.status)}  ${elapsed(started)}`,
        ...run.nodes.map((n) => `  ${paintedState(n.status)}  ${nodeLine(n)}`),
      ];
      const up = drawn ? `\x1b[${drawn}A` : '';
      process.stdout.write(`\r\x1b[2K${up}${lines.map((l) => `\r\x1b[2K${l}\n`).join('')}`);
      drawn = lines.length;
    } else {
      // The run's last line after its nodes' (they ended first).
      const runLine = `run ${run.id}: ${run.status.toLowerCase()}`;
      const nodeLines = run.nodes.map(nodeLine);
      for (const line of final ? [...nodeLines, runLine] : [runLine, ...nodeLines]) {
        const key = line.split(':')[0] ?? line;
        if (seen.get(key) === line) continue;
        seen.set(key, line);
        say(`  ${line} (${elapsed(started)})`);
      }
    }
    if (final) return run;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
