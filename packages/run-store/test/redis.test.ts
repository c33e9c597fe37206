import { afterAll, describe, expect, it, jest } from '@jest/globals';
import type { Redis } from 'ioredis';
import { createRedis } from '../src/redis.js';
import { REDIS_URL } from './helpers.js';

const opened: Redis[] = [];
const open = (...args: Parameters<typeof createRedis>) => {
  const r = createRedis(...args);
  opened.push(r);
  return r;
};

afterAll(async () => {
  await Promise.all(opened.map((r) => (r.status === 'ready' ? r.quit() : r.disconnect())));
});

describe('createRedis', () => {
  it('names the connection and retries finitely unless it is for BullMQ', async () => {
    const store = open(REDIS_URL, { name: 'store test' });
    const bull = open(REDIS_URL, { name: 'bull', forBullmq: true });
    expect(await store.client('GETNAME')).toBe('store-test');
    expect(store.options.maxRetriesPerRequest).toBe(3);
    expect(bull.options.maxRetriesPerRequest).toBeNull();
  });

  it('reports connection errors and fails commands instead of hanging when Redis is down', async () => {
    const onError = jest.fn();
    // disconnect() on an already-closed socket arms a timer of disconnectTimeout (2 s) that keeps
    // Jest alive; a short one lets the run end promptly
    const down = open('redis://127.0.0.1:1', { name: 'down', onError, options: { disconnectTimeout: 10 } });
    await expect(down.get('x')).rejects.toThrow();
    expect(onError).toHaveBeenCalled();
  });
});
