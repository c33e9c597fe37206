import { z } from 'zod';
import type { SimConfig } from './config.js';

const num = (min: number, max: number, int = false) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/, 'must be a number')
    .transform(Number)
    .pipe(int ? z.number().int().min(min).max(max) : z.number().min(min).max(max));

/** Environment of `node dist/main.js`; read once at start-up. Empty strings count as unset. */
export const SimEnv = z.object({
  SIM_PORT: num(0, 65535, true).default(8000),
  SIM_HOST: z.string().min(1).default('127.0.0.1'),
  SIM_API_KEY: z.string().min(1).optional(),
  SIM_LATENCY_MS: num(0, 3_600_000, true).default(0),
  SIM_JOB_DURATION_MS: num(0, 86_400_000, true).default(5000),
  SIM_FAIL_5XX_RATE: num(0, 1).default(0),
  SIM_TIMEOUT_RATE: num(0, 1).default(0),
  SIM_429_RATE: num(0, 1).default(0),
  SIM_RETRY_AFTER_SEC: num(0, 86_400, true).default(1),
  SIM_FORCE_STATUS: num(400, 599, true).optional(),
  SIM_SEED: z.string().min(1).default('gateway-sim'),
  SIM_HANG_MAX_MS: num(0, 3_600_000, true).default(600_000),
  // any case, and the MVP's WARNING/CRITICAL, as the supervisor's own processes read them: start.sh
  // hands the gateway the same .env
  LOG_LEVEL: z.preprocess(
    (v) => (typeof v === 'string' ? ({ warning: 'warn', critical: 'error' }[v.trim().toLowerCase()] ?? v.trim().toLowerCase()) : v),
    z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
  ),
  LOG_FORMAT: z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(['text', 'json']).default('text')),
});
export type SimEnv = z.infer<typeof SimEnv>;

const WANTED = Object.keys(SimEnv.shape);

/** Parses the environment; on failure returns one line naming the first bad variable. */
export function readEnv(env: NodeJS.ProcessEnv): { ok: true; env: SimEnv } | { ok: false; line: string } {
  const picked: Record<string, string> = {};
  for (const k of WANTED) {
    const v = env[k];
    if (v !== undefined && v !== '') picked[k] = v;
  }
  const r = SimEnv.safeParse(picked);
  if (r.success) return { ok: true, env: r.data };
  const issue = r.error.issues[0]!;
  const name = String(issue.path[0] ?? 'environment');
  const got = picked[name] === undefined ? '' : ` (got ${JSON.stringify(name === 'SIM_API_KEY' ? '***' : picked[name])})`;
  return { ok: false, line: `gateway-sim: invalid configuration: ${name}: ${issue.message}${got}` };
}

export function configFromEnv(e: SimEnv): Partial<SimConfig> {
  return {
    latencyMs: e.SIM_LATENCY_MS,
    jobDurationMs: e.SIM_JOB_DURATION_MS,
    fail5xxRate: e.SIM_FAIL_5XX_RATE,
    timeoutRate: e.SIM_TIMEOUT_RATE,
    rate429: e.SIM_429_RATE,
    retryAfterSec: e.SIM_RETRY_AFTER_SEC,
    forceStatus: e.SIM_FORCE_STATUS ?? null,
    hangMaxMs: e.SIM_HANG_MAX_MS,
  };
}
