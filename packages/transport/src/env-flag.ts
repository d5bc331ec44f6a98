/** A yes/no variable set to something else: the message names it and its value. */
export class EnvFlagError extends Error {
  override name = 'EnvFlagError';
}

/**
 * A yes/no variable: 1/true/yes or 0/false/no (or unset). Anything else is an
 * error rather than a silent "no", so a typo in DROVER_INSECURE_NATS is seen.
 */
export function envFlag(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === '' || ['0', 'false', 'no'].includes(raw)) return false;
  if (['1', 'true', 'yes'].includes(raw)) return true;
  throw new EnvFlagError(`${name} must be 1 or 0, got "${env[name]}"`);
}
