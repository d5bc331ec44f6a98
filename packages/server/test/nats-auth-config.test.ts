import { nkeys } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { type NatsKey, natsAuthConfig } from '../src/index.js';

// The generated authorization, checked as text; what nats-server makes of it
// is proven against a real nats-server in test/e2e/nats-permissions.test.ts.

const SERVER = `UA${'A'.repeat(54)}`;
const MONITOR = `UB${'B'.repeat(54)}`;
const WORKER = `UC${'C'.repeat(54)}`;

describe('natsAuthConfig', () => {
  it('gives each role exactly its permissions', () => {
    const keys: NatsKey[] = [
      { publicKey: WORKER, role: 'worker', app: 'shop' },
      { publicKey: MONITOR, role: 'monitor' },
      { publicKey: SERVER, role: 'server' },
    ];
    expect(natsAuthConfig(keys)).toBe(
      [
        '# Written by drover-server from its nats_keys table; edits are overwritten.',
        '# Include it from nats-server.conf: include "<this file>"',
        'authorization {',
        '  users: [',
        '    # server',
        `    { nkey: "${SERVER}", permissions: {`,
        '        publish: { allow: [">"] }, subscribe: { allow: [">"] } } }',
        '    # monitor',
        `    { nkey: "${MONITOR}", permissions: {`,
        '        publish: { allow: ["$SRV.>", "drover.*.worker.*.status", "drover.servers.*.status"] }, subscribe: { allow: ["drover.*.events.>", "_INBOX_MON.>"] } } }',
        '    # worker of shop',
        `    { nkey: "${WORKER}", permissions: {`,
        '        publish: { allow: ["drover.shop.server.>", "drover.shop.worker.*.pt.>", "drover.shop.worker.*.tt.map_task", "drover.shop.worker.*.tt.report_task_status", "drover.shop.worker.*.tt.release_tasks", "drover.shop.worker.*.tt.pt_heartbeat", "drover.shop.events.>"] }, subscribe: { allow: ["drover.shop.worker.>", "_INBOX_shop.>", "$SRV.>"] }, allow_responses: true } }',
        '  ]',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('is the same text for the same keys in any order', () => {
    const keys: NatsKey[] = [
      { publicKey: nkeys.createUser().getPublicKey(), role: 'server' },
      { publicKey: nkeys.createUser().getPublicKey(), role: 'worker', app: 'a' },
      { publicKey: nkeys.createUser().getPublicKey(), role: 'worker', app: 'b' },
    ];
    expect(natsAuthConfig([...keys].reverse())).toBe(natsAuthConfig(keys));
  });

  it('refuses an empty list, which nats-server would read as "no authorization"', () => {
    expect(() => natsAuthConfig([])).toThrow(/would leave NATS open/);
  });

  it('refuses an app name that would widen the grant, and a key that is not a user key', () => {
    for (const app of ['*', '>', 'a.b', 'a b', '']) {
      expect(() => natsAuthConfig([{ publicKey: WORKER, role: 'worker', app }])).toThrow(
        /not a valid subject token/,
      );
    }
    const account = nkeys.createAccount().getPublicKey();
    for (const publicKey of [account, `${SERVER}" } ] }`, '']) {
      expect(() => natsAuthConfig([{ publicKey, role: 'server' }])).toThrow(
        /not a NATS user public key/,
      );
    }
  });
});
