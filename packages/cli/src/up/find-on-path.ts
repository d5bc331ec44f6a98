import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

// Debian installs daemons (nats-server) in sbin, which is not on an ordinary
// user's PATH: a program found there is as installed as one on PATH.
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const firstIn = (dirs: string[], name: string) =>
  dirs
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, name))
    .find(isExecutable);

/** The executable `name` on PATH, if any (as a shell would find it). */
export function findOnPath(name: string): string | undefined {
  return firstIn((process.env.PATH ?? '').split(delimiter), name);
}

/** The executable `name` on PATH, else in the sbin folders; undefined if neither has it. */
export function findProgram(name: string): string | undefined {
  return findOnPath(name) ?? firstIn(SBIN, name);
}
