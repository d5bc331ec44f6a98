import {
  EnvFlagError,
  isNatsAuthError,
  NatsNotSecuredError,
  NkeySeedFileError,
  envFlag as parseEnvFlag,
  readNkeySeedFile,
} from '@drover/transport';
import type { Logger } from 'pino';
import { CliError, Exit } from '../client/exit-codes.js';
import { readClusterInfo } from '../up/cluster-files.js';
import type { GlobalOptions } from './context.js';

// How a CLI command that talks to NATS itself (`drover monitor`) proves who
// it is: an nkey seed file (never a secret in argv), or --insecure-nats for a
// NATS without authentication.

export interface NatsCredentialFlags {
  natsNkeyFile?: string;
  insecureNats?: boolean;
}

export interface NatsCredentials {
  nkeySeed?: Uint8Array;
  insecureNats: boolean;
}

/** A yes/no variable (1/true/yes, 0/false/no or unset), or a usage error naming it. */
export function envFlag(name: string): boolean {
  try {
    return parseEnvFlag(name);
  } catch (err) {
    if (err instanceof EnvFlagError) throw new CliError(err.message, Exit.USAGE);
    throw err;
  }
}

/**
 * The seed from --nats-nkey-file, else the running `drover up`'s file for
 * `role` when `url` is its NATS (`drover env` puts the worker's file in
 * DROVER_NATS_NKEY_FILE, which a monitor may not use), else
 * DROVER_NATS_NKEY_FILE; insecure from --insecure-nats or DROVER_INSECURE_NATS.
 */
export async function natsCredentials(
  opts: GlobalOptions & NatsCredentialFlags,
  url: string,
  role: 'monitor',
  log: Logger,
): Promise<NatsCredentials> {
  const cluster = await readClusterInfo(opts.dataDir);
  const file =
    opts.natsNkeyFile ??
    (cluster?.natsUrl === url ? cluster[`${role}NkeyFile`] : undefined) ??
    process.env.DROVER_NATS_NKEY_FILE;
  const nkeySeed = file
    ? await readNkeySeedFile(file, log).catch((err: Error) => {
        throw new CliError(
          `${err instanceof NkeySeedFileError ? err.message : String(err)} (--nats-nkey-file / DROVER_NATS_NKEY_FILE)`,
          Exit.USAGE,
        );
      })
    : undefined;
  return { nkeySeed, insecureNats: opts.insecureNats ?? envFlag('DROVER_INSECURE_NATS') };
}

/** A refused credential or a NATS without authentication as the CLI's exit 4, else the error. */
export function natsConnectError(err: unknown, url: string): unknown {
  if (isNatsAuthError(err))
    return new CliError(
      `NATS at ${url} refused the credentials (--nats-nkey-file / DROVER_NATS_NKEY_FILE): ${(err as Error).message}`,
      Exit.UNAUTHORIZED,
    );
  if (err instanceof NatsNotSecuredError) return new CliError(err.message, Exit.UNAUTHORIZED);
  return err;
}
