/** Reconnect delays: 0.5 s doubling to `maxMs`, each with up to 20% jitter so many tabs spread out. */
export function* reconnectDelays(
  maxMs = 10_000,
  random: () => number = Math.random,
): Generator<number> {
  let next = 500;
  for (;;) {
    yield Math.round(next * (0.8 + 0.2 * random()));
    next = Math.min(next * 2, maxMs);
  }
}
