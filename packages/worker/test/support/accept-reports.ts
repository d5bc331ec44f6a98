import { routes, type serverMessages } from '@drover/protocol';
import type { Bus } from '@drover/transport';
import type { z } from 'zod/v4';

export type FinalReport = z.output<typeof serverMessages.ReportFinals>['reports'][number];

/**
 * Plays the server's side of a worker's reports (tests playing the server):
 * every final and progress report is accepted. `onFinals` sees each batch of
 * finals first, and the answer waits for what it returns (a test holding the
 * acknowledgements back).
 */
export function acceptReports(
  bus: Bus,
  app: string,
  onFinals: (reports: FinalReport[]) => void | Promise<void> = () => undefined,
): void {
  bus.handle(routes.server.reportFinals, { app }, async (req) => {
    await onFinals(req.reports);
    return {
      results: req.reports.map((r) => ({ instanceId: r.instanceId, accepted: true, stop: false })),
    };
  });
  bus.handle(routes.server.reportInstanceStatus, { app }, () => ({ accepted: true, stop: false }));
}
