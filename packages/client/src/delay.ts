/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Poll intervals: from `startMs`, doubling, up to `capMs`. */
export function* backoff(startMs = 50, capMs = 1_000): Generator<number, never> {
  for (let ms = startMs; ; ms = Math.min(ms * 2, capMs)) yield ms;
}
