import { z } from 'zod';

/** Thrown by parseEnv; its message is the one line printed at start-up. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const res = schema.safeParse(env);
  if (res.success) return res.data;
  const issue = res.error.issues[0]!;
  const name = issue.path.join('.') || 'environment';
  const value = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
  throw new ConfigError(`invalid configuration: ${name}=${value === undefined ? '(unset)' : JSON.stringify(value)}: ${issue.message}`);
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
