import { describe, expect, it } from 'vitest';
import { diskFull } from '../src/up/disk-full.js';

// One wording for a full disk, from a child's output or from an error of our own.

describe('diskFull', () => {
  it('names the dir and the line of output that says so', () => {
    const output = 'starting\nFATAL:  could not write: No space left on device\nbye';
    expect(diskFull('/data', output)?.message).toBe(
      'disk full under /data: free some space or use another --data-dir (FATAL:  could not write: No space left on device)',
    );
  });

  it('names the dir and the message of an ENOSPC error', () => {
    const err = Object.assign(new Error('ENOSPC: no space left on device, write'), {
      code: 'ENOSPC',
    });
    expect(diskFull('/data', err)?.message).toBe(
      'disk full under /data: free some space or use another --data-dir (ENOSPC: no space left on device, write)',
    );
  });

  it('is undefined for anything else', () => {
    expect(diskFull('/data', 'FATAL:  password authentication failed')).toBeUndefined();
    expect(
      diskFull('/data', Object.assign(new Error('EACCES'), { code: 'EACCES' })),
    ).toBeUndefined();
    expect(diskFull('/data', undefined)).toBeUndefined();
  });
});
