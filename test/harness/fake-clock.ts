import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A process-level fake wall clock: libfaketime (Debian's `faketime` package,
// installed by scripts/setup.sh) preloaded into a Drover process moves only
// CLOCK_REALTIME (Date.now); the monotonic clock Node's timers and
// performance.now() run on is left alone, as when time sync steps a clock.
// The offset lives in a file read on every call, so a test can step the
// wall clock of a process that is running.

const LIBRARIES = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
  '/usr/local/lib/faketime/libfaketime.so.1',
];

export interface FakeClock {
  /** Environment for the process whose wall clock this is. */
  env: NodeJS.ProcessEnv;
  /** Sets the wall clock to real time plus `offsetSeconds` (negative: behind), at once. */
  set(offsetSeconds: number): Promise<void>;
  remove(): Promise<void>;
}

export async function fakeClock(offsetSeconds = 0): Promise<FakeClock> {
  const library = process.env.FAKETIME_LIB ?? LIBRARIES.find((l) => existsSync(l));
  if (!library) {
    throw new Error(
      'libfaketime not found: install it (apt-get install faketime, or scripts/setup.sh) or set FAKETIME_LIB',
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'drover-clock-'));
  const file = join(dir, 'offset');
  const set = (seconds: number) =>
    writeFile(file, `${seconds >= 0 ? '+' : '-'}${Math.abs(seconds)}s\n`);
  await set(offsetSeconds);
  return {
    env: {
      LD_PRELOAD: library,
      FAKETIME_TIMESTAMP_FILE: file,
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    },
    set,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
