import { useEffect, useState } from 'preact/hooks';

/**
 * A module loaded on first use (its own chunk: charting and graph layout stay
 * out of the first load); null until it arrives.
 */
export function useLazy<T>(load: () => Promise<T>): T | null {
  const [mod, setMod] = useState<T | null>(null);
  useEffect(() => {
    let live = true;
    load().then(
      (m) => live && setMod(() => m),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, []);
  return mod;
}
