import { apiViews } from '@drover/protocol';
import { z } from 'zod/v4';

// The API answers the console reads beyond what @drover/client has methods for
// (routes of issue 16), validated like the client's own.

export const AppsAnswer = apiViews.AppListView;
export const RunStats = apiViews.RunStatsView;
export type RunStats = z.output<typeof RunStats>;

export const InstancesPage = z.object({
  instances: z.array(apiViews.InstanceView),
  next: z.string().nullable(),
});

/** Query string of the defined values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** The message a person should read of a failed call. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
