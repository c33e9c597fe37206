import { createServer } from 'node:http';
import { ApiEnv, loadOrExit } from '@sup/config';
import { createLogger } from '@sup/logging';
import { createKeys, createRedis, RunStore } from '@sup/run-store';
import { createRunQueue } from '@sup/queue';
import { graphs } from '@sup/graphs';
import { createApp } from './app.js';

const env = loadOrExit(ApiEnv);
const log = createLogger({ service: 'api', level: env.LOG_LEVEL, format: env.LOG_FORMAT });
const onError = (err: Error) => log.error('Redis connection error', { error: err.message });
const redis = createRedis(env.REDIS_URL, { name: 'api', onError });
const bull = createRedis(env.REDIS_URL, { name: 'api-bull', onError, forBullmq: true });
const store = new RunStore({ redis, prefix: env.KEY_PREFIX, ttlSec: env.RUN_TTL_SEC });
const queue = createRunQueue(bull, env.KEY_PREFIX);

// BullMQ loses jobs under any evicting policy (the MVP ran allkeys-lru): say so loudly at start-up.
let evictionPolicy: string | null = null;
try {
  const res = (await redis.config('GET', 'maxmemory-policy')) as string[];
  evictionPolicy = res[1] ?? null;
  if (evictionPolicy && evictionPolicy !== 'noeviction') {
    log.warn('redis_eviction_policy', { policy: evictionPolicy, expected: 'noeviction', consequence: 'queued jobs can be evicted and runs lost' });
  }
} catch (err) {
  log.warn('redis_eviction_policy_unknown', { error: (err as Error).message });
}

const app = createApp({
  redis, store, queue, graphs, log,
  cancelChannel: createKeys(env.KEY_PREFIX).cancelChannel,
  config: { apiKeys: env.API_KEYS, bodyLimitKb: env.BODY_LIMIT_KB, gatewayUrl: env.GATEWAY_URL, ttlSec: env.RUN_TTL_SEC, metricsPublic: env.METRICS_PUBLIC },
  evictionPolicy: () => evictionPolicy,
});
const server = createServer(app);
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
  server.close(() => {
    void Promise.allSettled([queue.close()]).then(() => Promise.allSettled([redis.quit(), bull.quit()])).then(() => process.exit(0));
  });
  server.closeAllConnections?.();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
