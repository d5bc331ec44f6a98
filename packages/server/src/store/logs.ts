import type { serverMessages } from '@drover/protocol';
import type { z } from 'zod';
import type { Queryable } from '../db/pool.js';

type ReportLog = z.output<typeof serverMessages.ReportLog>;

export interface LogLine {
  id: string;
  ts: number;
  level: string;
  message: string;
  workerId: string;
  taskId: string | null;
}

type LogRow = {
  id: string;
  ts: Date;
  level: string;
  message: string;
  worker_id: string;
  task_id: string | null;
};

const toLogLine = (r: LogRow): LogLine => ({
  id: r.id,
  ts: r.ts.getTime(),
  level: r.level,
  message: r.message,
  workerId: r.worker_id,
  taskId: r.task_id,
});

/**
 * Stores a batch of log lines once, however often it is re-sent; returns the
 * lines stored now (none for a batch stored before), in order.
 */
export async function insertLogBatch(db: Queryable, batch: ReportLog): Promise<LogLine[]> {
  const { rows } = await db.query<LogRow>(
    `INSERT INTO instance_logs (instance_id, batch_id, line_no, ts, level, message, worker_id, task_id)
     SELECT $1, $2, l.line_no, to_timestamp(l.ts / 1000.0), l.level, l.message, $3, l.task_id
     FROM unnest($4::int[], $5::float8[], $6::text[], $7::text[], $8::text[])
       AS l(line_no, ts, level, message, task_id)
     ON CONFLICT (instance_id, batch_id, line_no) DO NOTHING
     RETURNING id, ts, level, message, worker_id, task_id`,
    [
      batch.instanceId,
      batch.batchId,
      batch.workerId,
      batch.lines.map((_, i) => i),
      batch.lines.map((l) => l.ts),
      batch.lines.map((l) => l.level),
      batch.lines.map((l) => l.message),
      batch.lines.map((l) => l.taskId ?? null),
    ],
  );
  // RETURNING keeps no order of its own: ids were taken in line order.
  return rows.map(toLogLine).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
}

/** Log lines in the order they were stored, after a cursor (the last line id seen). */
export async function readLogs(
  db: Queryable,
  instanceId: string,
  afterId: string | undefined,
  limit: number,
): Promise<LogLine[]> {
  const { rows } = await db.query<LogRow>(
    `SELECT id, ts, level, message, worker_id, task_id FROM instance_logs
     WHERE instance_id = $1 AND ($2::bigint IS NULL OR id > $2) ORDER BY id LIMIT $3`,
    [instanceId, afterId ?? null, limit],
  );
  return rows.map(toLogLine);
}
