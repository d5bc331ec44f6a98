import { writeFile } from 'node:fs/promises';
import { renderProtocolDoc } from './protocol-doc.js';

await writeFile(new URL('../../docs/protocol.md', import.meta.url), renderProtocolDoc());
console.log('wrote docs/protocol.md');
