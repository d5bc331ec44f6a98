import { DroverApiError, DroverUnavailableError } from './errors.js';

// Small helpers every group of methods shares.

/** A server away or restarting (or a proxy before it saying so): worth asking again. */
export function isPassing(err: unknown): boolean {
  if (err instanceof DroverUnavailableError) return true;
  return err instanceof DroverApiError && [502, 503, 504].includes(err.status);
}

export function seg(value: string): string {
  return encodeURIComponent(value);
}

export function queryString(query: object): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query))
    if (value !== undefined && value !== null) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}
