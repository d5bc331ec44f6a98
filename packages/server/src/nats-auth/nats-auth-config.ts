import { isSubjectToken } from '@drover/protocol';

export type NatsKeyRole = 'server' | 'worker' | 'monitor';

/** One active NATS user: a public nkey (`U…`) and what it may do. */
export type NatsKey =
  | { publicKey: string; role: 'server' | 'monitor' }
  | { publicKey: string; role: 'worker'; app: string };

interface Permissions {
  publish: string[];
  subscribe: string[];
  allowResponses?: boolean;
}

/** Inbox prefix of an app's workers: their replies cannot be read by other apps. */
export function workerInboxPrefix(app: string): string {
  return `_INBOX_${app}`;
}

/** Inbox prefix of monitors (`drover monitor`). */
export const MONITOR_INBOX_PREFIX = '_INBOX_MON';

const SERVER: Permissions = { publish: ['>'], subscribe: ['>'] };

const MONITOR: Permissions = {
  publish: ['$SRV.>', 'drover.*.worker.*.status', 'drover.servers.*.status'],
  subscribe: ['drover.*.events.>', `${MONITOR_INBOX_PREFIX}.>`],
};

/**
 * A worker of `app` talks to servers, to its app's ProcessorTrackers and to
 * the TaskTracker handlers a PT calls; it answers what it receives. It never
 * sends what only servers send (run_job, stop_instance, query_instance_status)
 * and never reads `drover.<app>.server.>` (reports, the servers' queue group).
 */
function workerPermissions(app: string): Permissions {
  const root = `drover.${app}`;
  return {
    publish: [
      `${root}.server.>`,
      `${root}.worker.*.pt.>`,
      `${root}.worker.*.tt.map_task`,
      `${root}.worker.*.tt.report_task_status`,
      `${root}.worker.*.tt.release_tasks`,
      `${root}.worker.*.tt.pt_heartbeat`,
      `${root}.events.>`,
    ],
    subscribe: [`${root}.worker.>`, `${workerInboxPrefix(app)}.>`, '$SRV.>'],
    allowResponses: true,
  };
}

const PUBLIC_USER_KEY = /^U[A-Z2-7]{55}$/;

function permissionsOf(key: NatsKey): Permissions {
  if (!PUBLIC_USER_KEY.test(key.publicKey)) {
    throw new TypeError(`publicKey "${key.publicKey}" is not a NATS user public key (U…)`);
  }
  if (key.role !== 'worker') return key.role === 'server' ? SERVER : MONITOR;
  // The app name becomes a subject token: a '.', '*' or '>' would widen the grant.
  if (!isSubjectToken(key.app)) {
    throw new TypeError(`app "${key.app}" is not a valid subject token`);
  }
  return workerPermissions(key.app);
}

const list = (subjects: string[]) => `[${subjects.map((s) => JSON.stringify(s)).join(', ')}]`;

function userEntry(key: NatsKey): string {
  const p = permissionsOf(key);
  const responses = p.allowResponses ? ', allow_responses: true' : '';
  const who = key.role === 'worker' ? `worker of ${key.app}` : key.role;
  return [
    `    # ${who}`,
    `    { nkey: ${JSON.stringify(key.publicKey)}, permissions: {`,
    `        publish: { allow: ${list(p.publish)} }, subscribe: { allow: ${list(p.subscribe)} }${responses} } }`,
  ].join('\n');
}

/**
 * The nats-server `authorization` block for the active keys, for a config
 * `include`. Pure: the same keys give the same text (sorted), so a reload
 * changes nothing when nothing changed. Throws on an empty list, which
 * nats-server would read as "no authorization".
 */
export function natsAuthConfig(keys: readonly NatsKey[]): string {
  // nats-server reads an empty user list as "no authorization": everyone gets in.
  if (keys.length === 0) throw new TypeError('no NATS keys: the config would leave NATS open');
  const sorted = [...keys].sort((a, b) =>
    a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0,
  );
  return [
    '# Written by drover-server from its nats_keys table; edits are overwritten.',
    '# Include it from nats-server.conf: include "<this file>"',
    'authorization {',
    '  users: [',
    ...sorted.map(userEntry),
    '  ]',
    '}',
    '',
  ].join('\n');
}
