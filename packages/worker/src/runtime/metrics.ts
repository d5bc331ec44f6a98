import { availableParallelism, freemem, loadavg, totalmem } from 'node:os';
import type { serverMessages } from '@drover/protocol';
import type { z } from 'zod/v4';

type Metrics = z.input<typeof serverMessages.WorkerMetrics>;

/** This machine's health as a heartbeat carries it. */
export function currentMetrics(totalSlots: number, busySlots: number): Metrics {
  const cores = availableParallelism();
  return {
    cpuLoad: Math.round(((loadavg()[0] ?? 0) / cores) * 100) / 100,
    cpuCores: cores,
    memoryUsedBytes: totalmem() - freemem(),
    memoryTotalBytes: totalmem(),
    freeSlots: Math.max(0, totalSlots - busySlots),
    totalSlots,
  };
}
