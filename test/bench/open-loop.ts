/**
 * Calls `call` `count` times at `rate` a second, each at its moment in the
 * schedule whatever the earlier calls' answers (an open loop: a slow answer
 * does not slow the offered load, as it would in a closed loop); resolves
 * with the seconds the calls took to send, once every call has settled.
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
  const sentSeconds = (performance.now() - t0) / 1_000;
  await Promise.all(calls);
  return sentSeconds;
}
