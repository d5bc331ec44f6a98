import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { errorText } from '../api.js';
import { throttle } from './throttle.js';

/** A status as text, coloured by kind (the text is what counts: colour is an extra). */
export function Status({ value }: { value: string }) {
  return <span class={`status status-${statusKind(value)}`}>{value}</span>;
}

export function statusKind(status: string): string {
  if (status === 'SUCCEEDED') return 'ok';
  if (status === 'FAILED') return 'bad';
  if (status === 'RUNNING') return 'live';
  if (status === 'STOPPED' || status === 'CANCELED' || status === 'SKIPPED') return 'off';
  return 'wait';
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {errorText(error)}
    </p>
  );
}

export function PageTitle({ children }: { children: ComponentChildren }) {
  return (
    <h1 tabIndex={-1} class="page-title">
      {children}
    </h1>
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads with `load` when `deps` change and on `reload()`; a slower earlier
 * answer never overwrites a later one.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error: unknown; loading: boolean }>({
    error: null,
    loading: true,
  });
  const seq = useRef(0);
  const loader = useRef(load);
  loader.current = load;
  const reload = useCallback(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    loader.current().then(
      (data) => mine === seq.current && setState({ data, error: null, loading: false }),
      (error: unknown) =>
        mine === seq.current && setState((s) => ({ ...s, error, loading: false })),
    );
  }, []);
  useEffect(reload, deps);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** A throttled `fn` (see throttle.ts) for the life of the component. */
export function useThrottle(fn: () => void, ms: number): () => void {
  const latest = useRef(fn);
  latest.current = fn;
  const throttled = useMemo(() => throttle(() => latest.current(), ms), [ms]);
  useEffect(() => throttled.cancel, [throttled]);
  return throttled.call;
}
