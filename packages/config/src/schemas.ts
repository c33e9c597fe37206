import { z } from 'zod';
import { checkRedisTopology, redisTopologyVars, redisUrl } from './redis.js';
import { httpUrl } from './urls.js';
import { apiKeys, bool, int, logFormat, num, text, webhookHosts } from './values.js';

// A hash-tagged prefix such as "{sup}:" puts every key of a deployment in one Cluster slot.
const keyPrefix = z.string().optional().transform((v, ctx) => {
  const s = v ?? '';
  if (!/^[A-Za-z0-9_:{}.-]*$/.test(s)) {
    ctx.addIssue({ code: 'custom', message: 'letters, digits and _ : { } . - only' });
    return z.NEVER;
  }
  // the queues' prefix is KEY_PREFIX without its last ':', and 'bull' without one
  if (s.replace(/:$/, '') === 'bull') {
    ctx.addIssue({ code: 'custom', message: 'its queues would be those of a deployment without a prefix (bull:*); choose another' });
    return z.NEVER;
  }
  return s;
});

/** Shared by every process that talks to Redis. */
export const common = {
  REDIS_URL: redisUrl,
  KEY_PREFIX: keyPrefix,
  RUN_TTL_SEC: int(86_400, 60, 90 * 86_400),
  // case-insensitive, and the Python MVP's WARNING / CRITICAL still start the service
  LOG_LEVEL: z.preprocess(
    (v) => (typeof v === 'string' && v !== '' ? ({ warning: 'warn', critical: 'error' }[v.toLowerCase()] ?? v.toLowerCase()) : undefined),
    z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  ),
  LOG_FORMAT: logFormat,
  ...redisTopologyVars,
};

export const ApiEnv = z.object({
  ...common,
  PORT: int(8084, 0, 65_535),
  HOST: text('0.0.0.0'),
  GATEWAY_URL: httpUrl('http://router:8000'),
  API_KEYS: apiKeys,
  BODY_LIMIT_KB: int(256, 1, 10_240),
  METRICS_PUBLIC: bool(false),
  /** New runs are refused (503 over_capacity) from this % of Redis' maxmemory on; 0 = never. */
  ADMISSION_MEMORY_PCT: int(90, 0, 100),
  /** Hosts run webhooks may go to (a create naming another is a 422); empty = any. */
  WEBHOOK_ALLOWED_HOSTS: webhookHosts,
  /** A create whose webhook names a private address literally is a 422 (names are checked by the workers). */
  WEBHOOK_DENY_PRIVATE: bool(false),
  /**
   * Declarative schedules, reconciled at start-up: a YAML/JSON file path and/or inline JSON. Their
   * content is checked by packages/schedules (it needs the graphs); empty or blank = leave config
   * schedules as they are.
   */
  SCHEDULES_FILE: z.string().default(''),
  SCHEDULES: z.string().default(''),
}).superRefine(checkRedisTopology);
export type ApiEnv = z.infer<typeof ApiEnv>;

/**
 * A parent run polls its child every JOB_POLL_INTERVAL_SEC (±10 %): a child that finished must still
 * exist at the next poll, so RUN_TTL_SEC must be well above the interval (a parked run itself is kept
 * until its wake-up whatever the TTL; a finished child is not — it would read as gone).
 */
function checkPollAgainstTtl(env: { RUN_TTL_SEC: number; JOB_POLL_INTERVAL_SEC: number }, ctx: z.RefinementCtx): void {
  if (env.RUN_TTL_SEC < 2 * env.JOB_POLL_INTERVAL_SEC) {
    ctx.addIssue({
      code: 'custom', path: ['RUN_TTL_SEC'],
      message: `must be at least twice JOB_POLL_INTERVAL_SEC (${env.JOB_POLL_INTERVAL_SEC}): a finished child run must outlive its parent's next poll`,
    });
  }
}

export const WorkerEnv = z.object({
  ...common,
  GATEWAY_URL: httpUrl('http://router:8000'),
  SUPERVISOR_API_KEY: z.string().default(''),
  WORKER_CONCURRENCY: int(10, 1, 1000),
  JOB_POLL_INTERVAL_SEC: num(3, 0.05, 3600),
  GATEWAY_TIMEOUT_MS: int(30_000, 100, 600_000),
  GATEWAY_RETRIES: int(3, 0, 20),
  /** Largest tool answer read; a larger one fails the call (response_too_large, not retried). */
  GATEWAY_MAX_RESPONSE_BYTES: int(4 * 1024 * 1024, 1_024, 256 * 1024 * 1024),
  /** Largest run record a step may write; a step that would write more fails the run (record_too_large). */
  RUN_RECORD_MAX_BYTES: int(2 * 1024 * 1024, 64 * 1024, 64 * 1024 * 1024),
  /** BullMQ lock: a dead worker's runs move to another after about this long. */
  WORKER_LOCK_MS: int(30_000, 1_000, 600_000),
  /** A run fails (crash_loop) once one node was in flight at this many lost workers in a row; 0 = never. */
  CRASH_LOOP_LIMIT: int(5, 0, 1_000),
  WORKER_METRICS_PORT: int(0, 0, 65_535),
  /** After SIGTERM, exit (code 1) if the graceful stop has not finished by then: Redis down makes it wait forever. */
  WORKER_STOP_TIMEOUT_MS: int(90_000, 1_000, 3_600_000),
  /** Signs run webhooks (HMAC-SHA256, see contracts/webhooks.ts); empty = unsigned. */
  WEBHOOK_SECRET: z.string().default(''),
  WEBHOOK_TIMEOUT_MS: int(10_000, 100, 120_000),
  /** Checked again at delivery (the list may have changed since the run was created); empty = any. */
  WEBHOOK_ALLOWED_HOSTS: webhookHosts,
  /** Refuse webhooks to loopback, private and link-local addresses, checked on the address connected to. */
  WEBHOOK_DENY_PRIVATE: bool(false),
  /** How often one worker removes finished BullMQ jobs past RUN_TTL_SEC and stale index entries. */
  HOUSEKEEPING_EVERY_SEC: int(60, 1, 86_400),
}).superRefine(checkRedisTopology).superRefine(checkPollAgainstTtl);
export type WorkerEnv = z.infer<typeof WorkerEnv>;

/**
 * apps/launcher: the API and WORKERS worker processes as one unit (the `sofiia-supervisor`
 * container, scripts/start.sh). Every other variable passes through to the children, which check
 * their own.
 */
export const LauncherEnv = z.object({
  /** Worker processes beside the API; 0 = the API alone. */
  WORKERS: int(2, 0, 64),
  /** The first worker's metrics port; the others take the next ones (0 = none). */
  WORKER_METRICS_PORT: int(0, 0, 65_535),
  /** `[api] `, `[worker1] ` … before each line (scripts/start.sh); off in containers. */
  LAUNCHER_LINE_PREFIX: bool(false),
  LOG_LEVEL: common.LOG_LEVEL,
  LOG_FORMAT: common.LOG_FORMAT,
}).superRefine((env, ctx) => {
  if (env.WORKER_METRICS_PORT !== 0 && env.WORKER_METRICS_PORT + env.WORKERS - 1 > 65_535) {
    ctx.addIssue({ code: 'custom', path: ['WORKER_METRICS_PORT'], message: `with WORKERS=${env.WORKERS} the last worker's port would pass 65535` });
  }
});
export type LauncherEnv = z.infer<typeof LauncherEnv>;
