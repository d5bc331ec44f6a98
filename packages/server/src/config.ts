import { consoleDir } from '@drover/console';
import { routes, Timing } from '@drover/protocol';
import { parseUserSeed } from '@drover/transport';
import { z } from 'zod';
import { ACCEPT_WRITE_DELAY_MS } from './dispatch/held-accepts.js';

const DAY_MS = 24 * 3_600_000;

const isUserSeed = (seed: Uint8Array) => {
  try {
    parseUserSeed(new TextDecoder().decode(seed), 'natsNkeySeed');
    return true;
  } catch {
    return false;
  }
};

/** nats-server's authorization include, managed by this server (see docs/security.md). */
const NatsAuth = z.strictObject({
  /** The file nats-server.conf includes; written atomically. */
  file: z.string().min(1),
  /** Makes nats-server re-read it (e.g. SIGHUP to the pid in its pid file). */
  reload: z.custom<() => Promise<void>>((v) => typeof v === 'function', 'must be a function'),
});

/** Server settings. Strict: a misspelt setting is an error, not a silent default. */
// The longest a dispatch waits for a worker's answer (a batch, or one run).
const DISPATCH_ASK_TIMEOUT_MS = Math.max(routes.tt.runJob.timeoutMs, routes.tt.runJobs.timeoutMs);
// An accept's write lands up to the ask timeout, the hold and its 100 ms check after the dispatch.
const MIN_ACCEPT_TIMEOUT_MS = DISPATCH_ASK_TIMEOUT_MS + ACCEPT_WRITE_DELAY_MS + 500;

export const ServerConfig = z
  .strictObject({
    natsUrl: z.string().min(1).default('nats://127.0.0.1:4222'),
    natsUser: z.string().optional(),
    natsPass: z.string().optional(),
    /** This server's NATS user nkey seed (`SU…` text as bytes); never logged. */
    natsNkeySeed: z
      .custom<Uint8Array>((v) => v instanceof Uint8Array, 'must be the seed as bytes')
      .refine(isUserSeed, 'must be a NATS user seed (SU…)')
      .optional(),
    /** Accept a NATS without authentication (one warning) instead of refusing to start. */
    insecureNats: z.boolean().default(false),
    /** When set, this server writes nats-server's authorization from the nats_keys table. */
    natsAuth: NatsAuth.optional(),
    /** Public keys (`U…`) of `drover monitor` users, allowed to read events and `$SRV`. */
    natsMonitorKeys: z
      .array(z.string().regex(/^U[A-Z2-7]{55}$/, 'must be a NATS user public key (U…)'))
      .default([]),
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
    /**
     * Timed runs (CRON slots, delayed runs) of jobs without a concurrency
     * limit go to their worker this long before their time, and the worker
     * starts them on time: a fleet of jobs firing together starts within
     * milliseconds of its slot. 0 sends them at their time.
     */
    dispatchLeadMs: z.number().int().min(0).max(60_000).default(500),
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
    /** The web console's built files, served under `/` (@drover/console's by default). */
    consoleDir: z.string().min(1).default(consoleDir),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  })
  .refine((c) => !c.natsAuth || c.natsNkeySeed, {
    path: ['natsNkeySeed'],
    message:
      'is needed with natsAuth (--nats-auth-file): the server registers its own key before it connects',
  })
  .refine((c) => c.acceptTimeoutMs >= MIN_ACCEPT_TIMEOUT_MS, {
    path: ['acceptTimeoutMs'],
    message: `must be at least ${MIN_ACCEPT_TIMEOUT_MS} ms: the run_job / run_jobs ask timeout (${DISPATCH_ASK_TIMEOUT_MS} ms) and the ${ACCEPT_WRITE_DELAY_MS} ms an accept is held before it is written, or a slow accept is taken back while still in flight`,
  });

export type ServerConfigInput = z.input<typeof ServerConfig>;
export type ServerConfig = z.output<typeof ServerConfig>;
