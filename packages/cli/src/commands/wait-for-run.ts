import { apiViews } from '@drover/protocol';
import type { z } from 'zod';
import { progressText } from '../output/table.js';
import type { Connection } from './context.js';

type Instance = z.output<typeof apiViews.InstanceView>;
const FINAL = ['SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED'];
const POLL_MS = 250;

/** Follows a run to its end, printing each change of status or progress (to stderr with --json). */
export async function waitForRun(conn: Connection, id: string): Promise<Instance> {
  const say = (line: string) => (conn.json ? console.error(line) : console.log(line));
  let last = '';
  for (;;) {
    const instance = await conn.api.call(
      apiViews.InstanceView,
      'GET',
      `/apps/${conn.app}/instances/${id}`,
    );
    const line = `  ${instance.status}${instance.progress ? `: ${progressText(instance.progress)}` : ''}`;
    if (line !== last) say(line);
    last = line;
    if (FINAL.includes(instance.status)) return instance;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
