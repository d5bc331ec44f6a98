import { readFileSync } from 'node:fs';

// Secrets reach a process through its environment or a file, never only
// through argv (which `ps` shows to every user): NAME holds the value,
// or NAME_FILE names a file holding it (Docker and systemd credentials).

/** A secret setting given wrongly (both NAME and NAME_FILE, or an unreadable file). */
export class SecretSettingError extends Error {
  override name = 'SecretSettingError';
}

/**
 * The secret in `NAME`, or the trimmed contents of the file `NAME_FILE`
 * names, or undefined when neither is set. Both set is an error naming them.
 */
export function envSecret(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct && file) throw new SecretSettingError(`set ${name} or ${name}_FILE, not both`);
  if (!file) return direct || undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // The path is not secret; the contents never appear in the message.
    throw new SecretSettingError(
      `${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const value = text.trim();
  if (!value) throw new SecretSettingError(`${name}_FILE: ${file} is empty`);
  return value;
}

const warned = new Set<string>();

/**
 * A secret given as a command-line flag still works, but every user on the
 * host can read it in `ps`: warn once, saying what to use instead.
 */
export function warnSecretInArgv(flag: string, instead: string): void {
  if (warned.has(flag)) return;
  warned.add(flag);
  process.emitWarning(
    `${flag} on the command line is visible to every user of this host (ps, /proc); use ${instead}`,
    { code: 'DROVER_SECRET_IN_ARGV' },
  );
}
