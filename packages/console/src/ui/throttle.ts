/**
 * `fn` at once, then at most once per `ms`: calls in between run once at the
 * end of the window. For reloads that events trigger: the first is not delayed,
 * a burst costs two.
 */
export function throttle(fn: () => void, ms: number): { call: () => void; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending = false;
  const close = () => {
    if (pending) {
      pending = false;
      fn();
      timer = setTimeout(close, ms);
    } else timer = undefined;
  };
  return {
    call() {
      if (timer !== undefined) {
        pending = true;
        return;
      }
      fn();
      timer = setTimeout(close, ms);
    },
    cancel() {
      clearTimeout(timer);
      timer = undefined;
      pending = false;
    },
  };
}
