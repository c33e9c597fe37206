import { ApiEnv, loadOrExit } from '@sup/config';
import { createLogger, redisConnectionErrors } from '@sup/logging';
import { connectRedis, createKeys, keepClockSynced, memoryUse, RedisClock, redisMode, RunStore } from '@sup/run-store';
import { createHousekeepingQueue, createRunQueue, createWebhookQueue } from '@sup/queue';
import { graphs } from '@sup/graphs';
import {
  ConfigScheduleKeeper, createScheduleQueue, loadScheduleConfig, ScheduleConfigError, ScheduleService, ScheduleStore, type Schedule,
} from '@sup/schedules';
import { createApp } from './app.js';
import { createHttpServer } from './http-server.js';
import { RedisChecks } from './redis-checks.js';
import { Admission } from './admission.js';
import { EventFollower } from './sse/follower.js';

const env = loadOrExit(ApiEnv);
const keys = createKeys(env.KEY_PREFIX);
let configuredSchedules: Schedule[] | null;
try {
  configuredSchedules = loadScheduleConfig(env, graphs);
} catch (err) {
  if (!(err instanceof ScheduleConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
const log = createLogger({ service: 'api', level: env.LOG_LEVEL, format: env.LOG_FORMAT });
// said at start-up, not only as auth=off in api_listening: every route then answers without a key
if (env.API_KEYS.length === 0) log.warn('auth_off', { reason: 'API_KEYS is unset: every route answers without a key' });
const onError = redisConnectionErrors(log);
// standalone (REDIS_URL), Cluster (REDIS_CLUSTER_NODES) or Sentinel (REDIS_SENTINELS) by configuration
const redis = connectRedis(env, { name: 'api', onError });
const bull = connectRedis(env, { name: 'api-bull', onError, forBullmq: true });
const store = new RunStore({ redis, prefix: env.KEY_PREFIX, ttlSec: env.RUN_TTL_SEC });
// runs are stamped on Redis' clock, as the workers stamp theirs: hosts whose clocks disagree still
// agree on created_at and the listing order. Not awaited: the API comes up while Redis is down.
const clock = new RedisClock(redis);
void keepClockSynced(clock, log);
const queue = createRunQueue(bull, env.KEY_PREFIX);
const webhookQueue = createWebhookQueue(bull, env.KEY_PREFIX);
// shown in bull-board and /metrics only; the workers run it
const housekeepingQueue = createHousekeepingQueue(bull, env.KEY_PREFIX);
// the one subscriber connection behind every SSE follower of this process
const follower = new EventFollower({
  subscriber: connectRedis(env, { name: 'api-events', onError }), channel: keys.eventsChannel, log,
  runStatus: (id) => store.status(id),
});
const scheduleQueue = createScheduleQueue(bull, env.KEY_PREFIX);
const scheduleStore = new ScheduleStore(redis, env.KEY_PREFIX);
const schedules = new ScheduleService({
  store: scheduleStore, queue: scheduleQueue, submit: { store, queue, ttlSec: env.RUN_TTL_SEC, now: clock.now }, graphs, log,
});
// BullMQ reports connection trouble as 'error' events; without a listener it prints raw stacks
for (const q of [queue, webhookQueue, scheduleQueue, housekeepingQueue]) q.on('error', onError);

// Before listening when Redis answers, so a started API already shows the configured schedules;
// with Redis down the API must still come up and answer /healthz with 503, so wait at most 5 s.
const startupWaitMs = 5_000;
await Promise.race([schedules.startup(configuredSchedules), new Promise((r) => setTimeout(r, startupWaitMs).unref())]);
// a scheduler removed in bull-board (or an obliterated queue) is put back within a minute
schedules.watchSchedulers();
// and later: Redis may lose them (FLUSHDB, a restart without persistence); checked every minute and
// after every reconnect, restored only when something is missing
if (configuredSchedules) {
  new ConfigScheduleKeeper({ svc: schedules, store: scheduleStore, queue: scheduleQueue, log }, configuredSchedules).start(redis);
}

// what the Redis deployment must be (noeviction; behind Sentinel, min-replicas-to-write): said
// loudly at start-up and in /healthz
const redisChecks = new RedisChecks(redis, redisMode(env), log);
await Promise.race([redisChecks.start(), new Promise((r) => setTimeout(r, startupWaitMs).unref())]);

const app = createApp({
  redis, store, queue, graphs, log,
  cancelChannel: keys.cancelChannel,
  config: { apiKeys: env.API_KEYS, bodyLimitKb: env.BODY_LIMIT_KB, gatewayUrl: env.GATEWAY_URL, ttlSec: env.RUN_TTL_SEC, metricsPublic: env.METRICS_PUBLIC, webhookHosts: env.WEBHOOK_ALLOWED_HOSTS, webhookDenyPrivate: env.WEBHOOK_DENY_PRIVATE },
  redisWarnings: () => redisChecks.warnings(),
  schedules,
  queues: [queue, scheduleQueue, webhookQueue, housekeepingQueue],
  follower,
  webhooks: webhookQueue,
  admission: new Admission({ limitPct: env.ADMISSION_MEMORY_PCT, read: () => memoryUse(redis, keys.live), log }),
  now: clock.now,
});
const server = createHttpServer(app);
server.on('error', (err: NodeJS.ErrnoException) => {
  // e.g. EADDRINUSE: one clear line, not a stack
  log.error('api_listen_failed', { port: env.PORT, host: env.HOST, code: err.code ?? 'error', error: err.message });
  process.exit(1);
});
server.listen(env.PORT, env.HOST, () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : env.PORT;
  log.info('api_listening', { port, graphs: Object.keys(graphs).join(','), auth: env.API_KEYS.length > 0 ? 'api_keys' : 'off' });
});

let stopping = false;
function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info('api_stopping', { signal });
  // open event streams would hold server.close() forever: end them first
  void follower.close();
  server.close(() => {
    void Promise.allSettled([queue.close(), scheduleQueue.close(), webhookQueue.close(), housekeepingQueue.close()]).then(() => Promise.allSettled([redis.quit(), bull.quit()])).then(() => process.exit(0));
  });
  server.closeAllConnections?.();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
// started by apps/launcher (an IPC channel): its end, even by SIGKILL, stops this process as SIGTERM would
if (process.send) process.on('disconnect', () => shutdown('launcher_gone'));
