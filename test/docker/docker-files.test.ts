import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// No Docker engine here: the docker/ files are linted instead of run.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');
const INSTRUCTIONS = new Set([
  'FROM',
  'WORKDIR',
  'RUN',
  'COPY',
  'ENV',
  'EXPOSE',
  'USER',
  'HEALTHCHECK',
  'STOPSIGNAL',
  'ENTRYPOINT',
  'CMD',
  'ARG',
  'LABEL',
]);

/** Instructions with their continuation lines joined, comments dropped. */
function instructions(dockerfile: string): { op: string; args: string }[] {
  const joined = dockerfile.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/);
      return { op, args: rest.join(' ') };
    });
}

/** DROVER_* variables a binary's entry reads. */
function variablesRead(mainFile: string): Set<string> {
  return new Set(read(mainFile).match(/DROVER_[A-Z_]+[A-Z]/g) ?? []);
}

describe('docker files', () => {
  for (const file of ['docker/server.Dockerfile', 'docker/worker.Dockerfile']) {
    it(`${file}: known instructions, existing COPY sources, a non-root runtime`, () => {
      const steps = instructions(read(file));
      for (const s of steps) expect(INSTRUCTIONS, `${file}: ${s.op}`).toContain(s.op);
      for (const s of steps.filter((x) => x.op === 'COPY' && !x.args.startsWith('--from'))) {
        const sources = s.args.split(/\s+/).slice(0, -1);
        for (const source of sources)
          expect(existsSync(`${ROOT}${source}`), `${file}: ${source}`).toBe(true);
      }
      const runtime = steps.slice(steps.findLastIndex((s) => s.op === 'FROM'));
      expect(runtime.some((s) => s.op === 'USER' && s.args !== 'root')).toBe(true);
      expect(runtime.some((s) => s.op === 'ENTRYPOINT')).toBe(true);
    });
  }

  it('compose.yaml: nats, postgres, a server and two workers wired with variables the binaries read', () => {
    const compose = parse(read('docker/compose.yaml')) as {
      services: Record<
        string,
        { build?: { dockerfile: string }; environment?: Record<string, string> }
      >;
    };
    const services = compose.services;
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['nats', 'postgres', 'server', 'worker-1', 'worker-2']),
    );
    const readBy = {
      'docker/server.Dockerfile': variablesRead('packages/server/src/main.ts'),
      'docker/worker.Dockerfile': variablesRead('packages/worker/src/main.ts'),
    };
    for (const [name, service] of Object.entries(services)) {
      if (!service.build) continue;
      const dockerfile = service.build.dockerfile;
      expect(existsSync(`${ROOT}${dockerfile}`), `${name}: ${dockerfile}`).toBe(true);
      // DROVER_* variables are the binaries'; a one-shot helper's own (INIT_*) are not.
      for (const variable of Object.keys(service.environment ?? {}).filter((v) =>
        v.startsWith('DROVER_'),
      )) {
        expect(readBy[dockerfile as keyof typeof readBy], `${name}: ${variable}`).toContain(
          variable,
        );
      }
    }
    expect(services['worker-1']?.environment).toMatchObject({ DROVER_WORKER_ID: 'worker-1' });
    expect(services['worker-2']?.environment).toMatchObject({ DROVER_WORKER_ID: 'worker-2' });
  });

  it('compose.yaml: NATS requires authentication, the server manages it, workers hold a key', () => {
    type Service = {
      command?: string[];
      environment?: Record<string, unknown>;
      volumes?: string[];
      pid?: string;
      user?: string;
      entrypoint?: string[];
    };
    const compose = parse(read('docker/compose.yaml'), { merge: true }) as {
      services: Record<string, Service>;
    };
    const { nats, server, 'worker-1': worker } = compose.services as Record<string, Service>;
    // nats-server runs the main config, which includes the file the server writes and names the pid file.
    expect(nats?.command).toEqual(['-c', '/etc/nats/nats.conf']);
    expect(nats?.volumes).toContain('./nats.conf:/etc/nats/nats.conf:ro');
    const natsConf = read('docker/nats.conf');
    expect(natsConf).toMatch(/^include "auth\/auth\.conf"$/m);
    expect(natsConf).toMatch(/^pid_file: "\/etc\/nats\/auth\/nats\.pid"$/m);
    expect(nats?.volumes).toContain('nats-auth:/etc/nats/auth');
    // The server writes that file (same volume), signals that pid (same pid namespace, same uid).
    expect(server?.pid).toBe('service:nats');
    expect(server?.volumes).toContain('nats-auth:/nats-auth');
    expect(server?.environment).toMatchObject({
      DROVER_NATS_AUTH_FILE: '/nats-auth/auth.conf',
      DROVER_NATS_PID_FILE: '/nats-auth/nats.pid',
      DROVER_NATS_NKEY_FILE: '/secrets/server.nk',
    });
    expect(nats?.user).toBe('1000:1000');
    expect(read('docker/server.Dockerfile')).toMatch(/^USER node$/m); // uid 1000 in node images
    // Workers: the app's worker key from the volume init-app fills; nobody runs insecure.
    expect(worker?.environment).toMatchObject({ DROVER_NATS_NKEY_FILE: '/keys/demo.nk' });
    expect(worker?.volumes).toContain('worker-keys:/keys:ro');
    expect(read('docker/compose.yaml')).not.toContain('INSECURE');
    for (const helper of ['nats-auth-init', 'init-app']) {
      const script = compose.services[helper]?.entrypoint?.[1] as string;
      expect(existsSync(`${ROOT}${script}`), `${helper}: ${script}`).toBe(true);
    }
  });
});
