/**
 * Calls `call` `count` times at `rate` a second, each at its moment in the
 * schedule whatever the earlier calls' answers (an open loop: a slow answer
 * does not slow the offered load, as it would in a closed loop); resolves,
 * once every call has settled, with the seconds from the first call until then.
 */
export async function openLoop(
  rate: number,
  count: number,
  call: (i: number) => Promise<void>,
): Promise<number> {
  const calls: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    // The schedule's next moment, not an event to await.
    const wait = t0 + (i * 1_000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    calls.push(call(i));
  }
  await Promise.all(calls);
  return (performance.now() - t0) / 1_000;
}
