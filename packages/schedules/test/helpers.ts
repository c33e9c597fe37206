import { until as poll } from '@sup/testkit';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { graphs } from '@sup/graphs';
import { createLogger, type Logger } from '@sup/logging';
import { createRunQueue, type RunQueue, type SubmitDeps } from '@sup/queue';
import { RunStore } from '@sup/run-store';
import { createScheduleQueue, type ScheduleQueue } from '../src/scheduler.js';
import { validateSchedule, type Schedule } from '../src/schema.js';
import { ScheduleService } from '../src/service.js';
import { ScheduleStore } from '../src/store.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestEnv {
  prefix: string;
  redis: Redis;
  bull: Redis;
  runs: RunStore;
  runQueue: RunQueue;
  log: Logger;
  lines: string[];
  submit: SubmitDeps;
  closers: Array<() => Promise<unknown>>;
  /** Deletes every key under the prefix, BullMQ's included: what FLUSHDB does to this deployment. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Real Redis under a key prefix of this test file's own; `close()` deletes every key and connection. */
export function testEnv(name: string): TestEnv {
  const prefix = `t-sched-${name}-${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const bull = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const runs = new RunStore({ redis, prefix, ttlSec: 3600 });
  const runQueue = createRunQueue(bull, prefix);
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (b: Buffer) => lines.push(b.toString()));
  const log = createLogger({ service: 'schedules-test', stream });
  const closers: Array<() => Promise<unknown>> = [];
  async function flush() {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
  async function close() {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await runQueue.close();
    await flush();
    await redis.quit();
    await bull.quit();
  }
  return { prefix, redis, bull, runs, runQueue, log, lines, submit: { store: runs, queue: runQueue, ttlSec: 3600 }, closers, flush, close };
}

/** testEnv plus the schedules queue, store and service over it (closed and emptied by `env.close()`). */
export function serviceEnv(name: string): { env: TestEnv; queue: ScheduleQueue; store: ScheduleStore; svc: ScheduleService } {
  const env = testEnv(name);
  const queue = createScheduleQueue(env.bull, env.prefix);
  const store = new ScheduleStore(env.redis, env.prefix);
  const svc = new ScheduleService({ store, queue, submit: env.submit, graphs, log: env.log });
  env.closers.push(async () => {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  });
  return { env, queue, store, svc };
}

export const input = { service: 'billing', version: '1.0.0' };

/** A release check as the configuration would declare it (nightly at 02:00 unless `over` says otherwise). */
export const configured = (id: string, over: Record<string, unknown> = {}): Schedule =>
  validateSchedule({ id, graph: 'release_check', cron: '0 2 * * *', agent_id: 'sofiia', input, ...over }, graphs, 'config');

/** Polls `fn` until it answers something truthy (15 s by default here). */
export const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> => poll(what, fn, timeoutMs);

/**
 * `target` with `before` run ahead of each call of its `method`: a concurrent change landing between
 * two steps of the code under test, deterministically.
 */
export function hookBefore<T extends object>(target: T, method: keyof T, before: () => Promise<unknown>): T {
  return new Proxy(target, {
    get(t, prop) {
      const v = Reflect.get(t, prop, t) as unknown;
      if (typeof v !== 'function') return v;
      if (prop !== method) return v.bind(t);
      return async (...args: unknown[]) => {
        await before();
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}
