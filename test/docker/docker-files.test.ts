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
      for (const variable of Object.keys(service.environment ?? {})) {
        expect(readBy[dockerfile as keyof typeof readBy], `${name}: ${variable}`).toContain(
          variable,
        );
      }
    }
    expect(services['worker-1']?.environment).toMatchObject({ DROVER_WORKER_ID: 'worker-1' });
    expect(services['worker-2']?.environment).toMatchObject({ DROVER_WORKER_ID: 'worker-2' });
  });
});
