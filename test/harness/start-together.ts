/** Something started that must be stopped (a nats-server, a Postgres). */
interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Starts two services at once. If either fails to start, the other is
 * stopped before the failure is thrown: a Postgres whose initdb failed used
 * to leave the nats-server started beside it running after the bench ended.
 */
export async function startTogether<A extends Stoppable, B extends Stoppable>(
  startA: () => Promise<A>,
  startB: () => Promise<B>,
): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([startA(), startB()]);
  if (a.status === 'fulfilled' && b.status === 'fulfilled') return [a.value, b.value];
  await Promise.all([a, b].map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
  throw a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason;
}
