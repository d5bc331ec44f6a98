import { routes, Timing } from '@drover/protocol';
import { z } from 'zod';

const DAY_MS = 24 * 3_600_000;

/** Server settings. Strict: a misspelt setting is an error, not a silent default. */
export const ServerConfig = z
  .strictObject({
    natsUrl: z.string().min(1).default('nats://127.0.0.1:4222'),
    natsUser: z.string().optional(),
    natsPass: z.string().optional(),
    databaseUrl: z.string().min(1),
    databasePoolSize: z.number().int().min(1).max(200).default(10),
    httpHost: z.string().default('127.0.0.1'),
    /** Host names (besides localhost, 127.0.0.1, [::1]) the API answers to when on loopback. */
    httpAllowedHosts: z.array(z.string().min(1)).default([]),
    /** 0 picks a free port (tests). */
    httpPort: z.number().int().min(0).max(65_535).default(7700),
    /** Creating apps needs it as a bearer token; without it, no app can be created. */
    adminToken: z.string().min(12).optional(),
    serverId: z.string().min(1).default(`server-${process.pid}`),
    scanIntervalMs: z.number().int().min(50).default(500),
    lookaheadMs: z.number().int().min(100).default(2_000),
    sweepIntervalMs: z.number().int().min(50).default(1_000),
    acceptTimeoutMs: z.number().int().min(100).default(10_000),
    silentMs: z.number().int().min(100).default(Timing.INSTANCE_SILENT_MS),
    workerDeadMs: z.number().int().min(100).default(Timing.WORKER_DEAD_MS),
    waitingGiveUpMs: z.number().int().min(1_000).default(3_600_000),
    /** A worker holding runs, silent this long, is probed; no-responders means it is lost. */
    lostWorkerSilentMs: z.number().int().min(1_500).default(2_000),
    /** Re-dispatches a run gets for lost workers (no retry used) before it fails. */
    lostWorkerRedispatchLimit: z.number().int().min(0).default(3),
    /** A run whose processor no live worker has fails after this (time for a rolling deploy). */
    unknownProcessorGraceMs: z.number().int().min(0).default(30_000),
    retentionMs: z
      .number()
      .int()
      .min(60_000)
      .default(7 * DAY_MS),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  })
  .refine((c) => c.acceptTimeoutMs > routes.tt.runJob.timeoutMs, {
    path: ['acceptTimeoutMs'],
    message: `must exceed the run_job ask timeout (${routes.tt.runJob.timeoutMs} ms), or a slow accept is taken back while still in flight`,
  });

export type ServerConfigInput = z.input<typeof ServerConfig>;
export type ServerConfig = z.output<typeof ServerConfig>;
