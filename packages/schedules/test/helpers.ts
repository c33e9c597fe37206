import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { createLogger, type Logger } from '@sup/logging';
import { createRunQueue, type RunQueue, type SubmitDeps } from '@sup/queue';
import { RunStore } from '@sup/run-store';

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
  async function close() {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await runQueue.close();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await redis.quit();
    await bull.quit();
  }
  return { prefix, redis, bull, runs, runQueue, log, lines, submit: { store: runs, queue: runQueue, ttlSec: 3600 }, closers, close };
}
