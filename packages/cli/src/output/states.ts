import { paint } from './terminal.js';

// What a person reads for each instance status; `--json` keeps the API's names.
const STATE_NAMES: Record<string, string> = {
  WAITING_DISPATCH: 'waiting to be dispatched',
  WAITING_WORKER: 'waiting for a worker',
  WAITING_WORKER_RECEIVE: 'handed to a worker',
  RUNNING: 'running',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  STOPPED: 'stopped',
  CANCELED: 'canceled',
};

/** The user-facing name of an instance status (an unknown one as the API spells it). */
export function stateName(status: string): string {
  return STATE_NAMES[status] ?? status;
}

/** The state name, coloured by outcome when colour is on. */
export function paintedState(status: string): string {
  const name = stateName(status);
  if (status === 'SUCCEEDED') return paint('green', name);
  if (status === 'FAILED') return paint('red', name);
  if (status === 'STOPPED' || status === 'CANCELED') return paint('yellow', name);
  return paint('cyan', name);
}
