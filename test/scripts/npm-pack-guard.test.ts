import { describe, expect, it } from 'vitest';
import { runToEnd } from '../harness/process.js';

// `npm pack` of a workspace package keeps `workspace:*` dependencies, and
// installing that tarball fails (EUNSUPPORTEDPROTOCOL): each public package's
// prepack refuses it and names scripts/pack.sh, which packs with pnpm.

const REPO = new URL('../../', import.meta.url).pathname;
// As a user's shell has it: not the npm_config_* pnpm sets for the test run
// (npm would take pnpm's user agent from it).
const shellEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_config_')),
);

describe('npm pack of a workspace package', () => {
  it.each(['client', 'protocol', 'worker'])(
    'refuses in packages/%s, naming scripts/pack.sh',
    async (pkg) => {
      const packed = await runToEnd('npm', ['pack', '--dry-run'], {
        cwd: `${REPO}packages/${pkg}`,
        env: shellEnv,
        timeoutMs: 60_000,
      });
      expect(packed.code).not.toBe(0);
      expect(packed.stderr).toContain('bash scripts/pack.sh <dir>');
    },
  );
});
