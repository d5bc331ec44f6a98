import { benchCron } from './cron.js';
import { benchFlood } from './flood.js';
import { benchMapReduce } from './mapreduce.js';
import { benchRuns } from './runs.js';
import { benchServer } from './server.js';
import { benchTimedStart } from './timed-start.js';
import { benchTransport } from './transport.js';
import { benchUp } from './up.js';

// `pnpm bench <name>`: runs one benchmark and prints its figures as one JSON line.
const benches: Record<string, () => Promise<Record<string, unknown>>> = {
  transport: benchTransport,
  server: benchServer,
  mapreduce: benchMapReduce,
  up: benchUp,
  flood: benchFlood,
  runs: benchRuns,
  cron: benchCron,
  timedstart: benchTimedStart,
};

const name = process.argv[2] ?? 'transport';
const bench = benches[name];
if (!bench) {
  console.error(`unknown benchmark "${name}"; choose one of: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
console.log(JSON.stringify(await bench()));
