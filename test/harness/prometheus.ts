import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { z } from 'zod';

// Scrapes a /metrics endpoint and reads it with an independent parser of the
// Prometheus text format: what a Prometheus server would see.

const Labels = z.record(z.string(), z.string()).optional();
const Family = z.object({
  name: z.string(),
  help: z.string(),
  type: z.enum(['COUNTER', 'GAUGE', 'HISTOGRAM', 'SUMMARY', 'UNTYPED']),
  metrics: z.array(
    z.union([
      z.object({ value: z.string(), labels: Labels }),
      z.object({
        count: z.string(),
        sum: z.string(),
        buckets: z.record(z.string(), z.string()),
        labels: Labels,
      }),
    ]),
  ),
});
export type MetricFamily = z.infer<typeof Family>;

/** GET `url`, checks it is Prometheus text, returns its families by name. */
export async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('text/plain; version=0.0.4'))
    throw new Error(`GET ${url}: content-type ${type}, not Prometheus text`);
  const families = z.array(Family).parse(parsePrometheusTextFormat(await res.text()));
  return new Map(families.map((f) => [f.name, f]));
}

/** Sum of a counter's or gauge's samples whose labels include `labels` (0 when none). */
export function sampleSum(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const m of families.get(name)?.metrics ?? []) {
    if (!('value' in m)) continue;
    if (Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)) sum += Number(m.value);
  }
  return sum;
}

/** A histogram's observation count (one without labels). */
export function histogramCount(families: Map<string, MetricFamily>, name: string): number {
  const m = families.get(name)?.metrics[0];
  return m && 'count' in m ? Number(m.count) : 0;
}
