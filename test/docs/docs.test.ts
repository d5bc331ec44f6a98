import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { renderProtocolDoc } from './protocol-doc.js';

describe('docs/protocol.md', () => {
  it('matches the routing table (run `pnpm gen:docs` after changing routes)', async () => {
    const onDisk = await readFile(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderProtocolDoc());
  });
});
