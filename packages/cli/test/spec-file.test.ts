import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError, Exit } from '../src/client/exit-codes.js';
import { specFile } from '../src/commands/job-spec-flags.js';

// A spec file (`job create -f`, `workflow create -f`) that cannot be a spec is
// a usage error (exit 2) that says what to change in the file.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-spec-file-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function refusal(name: string, text: string): Promise<CliError> {
  const path = join(dir, name);
  await writeFile(path, text);
  const err = await specFile(path, 'workflow').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CliError);
  expect((err as CliError).exitCode).toBe(Exit.USAGE);
  return err as CliError;
}

describe('a spec file that cannot be a spec', () => {
  it('two YAML documents: says to keep one, not which library call to use', async () => {
    const err = await refusal('two.yaml', 'name: a\nnodes: []\n---\nname: b\n');
    expect(err.message).toBe(
      `${join(dir, 'two.yaml')} holds more than one YAML document (a --- line between them): put one workflow in the file`,
    );
  });

  it('YAML that does not parse, or JSON, names the file and the problem', async () => {
    expect((await refusal('dup.yaml', 'name: a\nname: b\n')).message).toMatch(
      /dup\.yaml is not valid YAML: Map keys must be unique/,
    );
    expect((await refusal('cut.json', '{"name": ')).message).toMatch(/cut\.json is not valid JSON/);
    expect((await refusal('list.yaml', '- a\n- b\n')).message).toMatch(
      /list\.yaml must hold one workflow object/,
    );
  });
});
