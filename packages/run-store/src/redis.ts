import { Redis, type RedisOptions } from 'ioredis';

export interface CreateRedisOptions {
  /** Shown by `CLIENT LIST`, so operators can tell the connections apart. */
  name: string;
  onError?: (err: Error) => void;
  /** BullMQ workers block on Redis and require `maxRetriesPerRequest: null`. */
  forBullmq?: boolean;
  /** Escape hatch (TLS, timeouts); applied last. */
  options?: RedisOptions;
}

export function createRedis(url: string, opts: CreateRedisOptions): Redis {
  const redis = new Redis(url, {
    // CLIENT SETNAME rejects spaces; a bad name would fail every connect
    connectionName: opts.name.replace(/[^\w.:-]/g, '-'),
    // finite for the store so an API request fails within a few reconnect attempts when Redis is
    // down (/healthz answers 503 instead of hanging); BullMQ needs to wait forever
    maxRetriesPerRequest: opts.forBullmq ? null : 3,
    // queue commands issued while (re)connecting; maxRetriesPerRequest bounds how long they wait
    enableOfflineQueue: true,
    ...opts.options,
  });
  // without a listener ioredis prints "Unhandled error event" on every failed reconnect
  if (opts.onError) redis.on('error', opts.onError);
  return redis;
}
