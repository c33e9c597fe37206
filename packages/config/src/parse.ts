import { z } from 'zod';
import { maskUrlSecrets } from '@sup/contracts';

/** Thrown by parseEnv; its message is the one line printed at start-up. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Variables whose values are secrets as a whole: an error line names them without their value. */
const SECRETS = new Set(['API_KEYS', 'SUPERVISOR_API_KEY', 'WEBHOOK_SECRET', 'REDIS_PASSWORD']);

/** How a value is quoted in an error line: never a secret (keys, URL credentials, query values). */
function shown(name: string, value: string | undefined): string {
  if (value === undefined) return '(unset)';
  return SECRETS.has(name) ? '(hidden)' : JSON.stringify(maskUrlSecrets(value));
}

export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const res = schema.safeParse(env);
  if (res.success) return res.data;
  const issue = res.error.issues[0]!;
  const name = issue.path.join('.') || 'environment';
  const value = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
  throw new ConfigError(`invalid configuration: ${name}=${shown(name, value)}: ${issue.message}`);
}

/** Parse once at boot; a bad variable prints one clear line and exits 1. */
export function loadOrExit<S extends z.ZodType>(schema: S, env: Record<string, string | undefined> = process.env): z.infer<S> {
  try {
    return parseEnv(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
