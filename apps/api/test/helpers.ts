import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { graphs } from '@sup/graphs';
import { createLogger, type Logger } from '@sup/logging';
import { createScheduleQueue, ScheduleService, ScheduleStore } from '@sup/schedules';
import { createKeys, RunStore } from '@sup/run-store';
import { createRunQueue, createWebhookQueue } from '@sup/queue';
import { createApp, type AppDeps } from '../src/app.js';
import { EventFollower } from '../src/sse/follower.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The API in-process over the real Redis, under a key prefix of its own. */
export function testApp(config: Partial<AppDeps['config']> = {}, redisUrl = REDIS_URL, extra: Pick<AppDeps, 'admission' | 'now'> = {}) {
  const prefix = `t-api-${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, disconnectTimeout: 50, lazyConnect: redisUrl !== REDIS_URL, retryStrategy: () => (redisUrl === REDIS_URL ? 50 : null) });
  const bull = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const store = new RunStore({ redis, prefix, ttlSec: 3600 });
  const queue = createRunQueue(bull, prefix);
  const logStream = new PassThrough();
  const logs: string[] = [];
  logStream.on('data', (b: Buffer) => logs.push(b.toString()));
  const log = createLogger({ service: 'api-test', stream: logStream });
  const webhooks = createWebhookQueue(bull, prefix);
  // lazy: only the tests that follow a run open the subscriber connection
  const follower = new EventFollower({ subscriber: new Redis(REDIS_URL, { lazyConnect: true }), channel: createKeys(prefix).eventsChannel, log, runStatus: (id) => store.status(id) });
  const app = createApp({
    redis, store, queue, graphs, log,
    cancelChannel: createKeys(prefix).cancelChannel,
    config: { apiKeys: [], bodyLimitKb: 16, gatewayUrl: 'http://router:8000', ttlSec: 3600, metricsPublic: false, ...config },
    follower, webhooks, ...extra,
  });
  async function close() {
    await follower.close();
    await webhooks.obliterate({ force: true }).catch(() => undefined);
    await webhooks.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    if (redisUrl === REDIS_URL) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
    }
    if (redisUrl === REDIS_URL) await redis.quit();
    else redis.disconnect();
    await bull.quit();
  }
  return { app, store, queue, webhooks, follower, redis, prefix, logs, close };
}

/**
 * The API wired as main.ts wires it, schedules included (so every route is mounted), over the real
 * Redis under a prefix of its own.
 */
export function scheduledApp(name: string, apiKeys: string[] = []): {
  prefix: string; redis: Redis; store: RunStore; queue: ReturnType<typeof createRunQueue>; scheduleQueue: ReturnType<typeof createScheduleQueue>;
  schedules: ScheduleService; log: Logger; app: ReturnType<typeof createApp>; close(): Promise<void>;
} {
  const prefix = `t-${name}-${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const bull = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const store = new RunStore({ redis, prefix, ttlSec: 3600 });
  const queue = createRunQueue(bull, prefix);
  const scheduleQueue = createScheduleQueue(bull, prefix);
  const log: Logger = createLogger({ service: 'api-test', stream: new PassThrough().resume() });
  const schedules = new ScheduleService({ store: new ScheduleStore(redis, prefix), queue: scheduleQueue, submit: { store, queue, ttlSec: 3600 }, graphs, log });
  const app = createApp({
    redis, store, queue, graphs, log, schedules, queues: [queue, scheduleQueue],
    cancelChannel: createKeys(prefix).cancelChannel,
    config: { apiKeys, bodyLimitKb: 16, gatewayUrl: 'http://router:8000', ttlSec: 3600, metricsPublic: false },
  });
  async function close() {
    for (const q of [queue, scheduleQueue]) {
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close();
    }
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await bull.quit();
  }
  return { prefix, redis, store, queue, scheduleQueue, schedules, log, app, close };
}
