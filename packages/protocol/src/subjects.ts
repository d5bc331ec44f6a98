import { isSubjectToken } from './tokens.js';

// Subject layout (see ARCHITECTURE.md):
//   drover.<app>.server.<handler>
//   drover.<app>.worker.<workerId>.tt.<handler>
//   drover.<app>.worker.<workerId>.pt.<handler>
//   drover.<app>.events.<kind>

export const SUBJECT_ROOT = 'drover';

/** Subscribe-only app token: a server serves every app's subjects. */
export const ANY_APP = '*';

export type Actor = 'server' | 'tt' | 'pt';

export interface ServerAddress {
  app: string;
}
export interface WorkerAddress {
  app: string;
  workerId: string;
}
export type AddressOf<A extends Actor> = A extends 'server' ? ServerAddress : WorkerAddress;

function token(name: string, value: string): string {
  if (name === 'app' && value === ANY_APP) return value;
  if (!isSubjectToken(value)) {
    throw new TypeError(
      `${name} "${value}" is not a valid subject token (letters, digits, _ and -)`,
    );
  }
  return value;
}

export function serverSubject(app: string, handler: string): string {
  return `${SUBJECT_ROOT}.${token('app', app)}.server.${handler}`;
}

export function workerSubject(
  app: string,
  workerId: string,
  actor: 'tt' | 'pt',
  handler: string,
): string {
  return `${SUBJECT_ROOT}.${token('app', app)}.worker.${token('workerId', workerId)}.${actor}.${handler}`;
}

export function eventsSubject(app: string, kind: string): string {
  return `${SUBJECT_ROOT}.${token('app', app)}.events.${kind}`;
}

/** Where a server's monitoring `status` endpoint answers (any id made a valid token). */
export function serverStatusSubject(serverId: string): string {
  return `${SUBJECT_ROOT}.servers.${serverId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)}.status`;
}

/** Where a worker's monitoring `status` endpoint answers. */
export function workerStatusSubject(app: string, workerId: string): string {
  return `${SUBJECT_ROOT}.${token('app', app)}.worker.${token('workerId', workerId)}.status`;
}

/** The app token of a Drover subject (`drover.<app>.…`). */
export function appOfSubject(subject: string): string {
  return subject.split('.', 3)[1] ?? '';
}

/** Wildcard covering every subject of one app, for permissions and monitors. */
export function appWildcard(app: string): string {
  return `${SUBJECT_ROOT}.${token('app', app)}.>`;
}
