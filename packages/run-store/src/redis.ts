import { Redis, type RedisOptions } from 'ioredis';
import { maskUrlSecrets } from '@sup/contracts';
import { coalesceWrites } from './coalesce.js';

export interface CreateRedisOptions {
  /** Shown by `CLIENT LIST`, so operators can tell the connections apart. */
  name: string;
  onError?: (err: Error) => void;
  /** BullMQ workers block on Redis and require `maxRetriesPerRequest: null`. */
  forBullmq?: boolean;
  /** Escape hatch (TLS, timeouts); applied last. */
  options?: RedisOptions;
  /**
   * Redis refused the URL's database (`SELECT 99`: ERR DB index is out of range). ioredis would
   * go on in db 0, another deployment's data, reporting the error on every reconnect. Called with
   * one line naming REDIS_URL; by default it is printed and the process exits 1.
   */
  onRefusedDb?: (line: string) => void;
  /**
   * The commands sent within one turn of the event loop leave in one socket write (see
   * coalesceWrites): for a connection many concurrent job passes send on.
   */
  coalesceWrites?: boolean;
}

const exitWith = (line: string): void => {
  process.stderr.write(`${line}\n`);
  process.exit(1);
};

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
  const refusedDb = (err: Error & { command?: { name?: string; args?: unknown[] } }) =>
    err.name === 'ReplyError' && err.command?.name === 'select'
      ? `invalid configuration: REDIS_URL="${maskUrlSecrets(url)}": Redis refuses database ${String(err.command.args?.[0])} (${err.message})` : null;
  redis.on('error', (err: Error) => {
    const line = refusedDb(err);
    if (line) return (opts.onRefusedDb ?? exitWith)(line);
    // without a listener ioredis prints "Unhandled error event" on every failed reconnect
    if (opts.onError) opts.onError(err);
    else console.error('[ioredis] Unhandled error event:', err);
  });
  return opts.coalesceWrites ? coalesceWrites(redis) : redis;
}
