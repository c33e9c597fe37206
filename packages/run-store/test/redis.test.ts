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

  it('stops with one line naming REDIS_URL when Redis refuses its database, instead of going on in db 0', async () => {
    const url = new URL(REDIS_URL);
    url.pathname = '/99'; // a default Redis has 16
    url.username = 'default'; // user info is masked in the line (the default user takes any password)
    url.password = 's3cret';
    const onError = jest.fn();
    let r: Redis | undefined;
    const line = await new Promise<string>((resolve) => {
      r = open(url.toString(), { name: 'bad-db', onError, onRefusedDb: resolve, options: { retryStrategy: () => null } });
    });
    expect(line).toBe(`invalid configuration: REDIS_URL="redis://***@${url.host}/99": Redis refuses database 99 (ERR DB index is out of range)`);
    expect(onError).not.toHaveBeenCalled();
    r!.disconnect();
  });

  it('by default prints that line and exits 1', async () => {
    const url = new URL(REDIS_URL);
    url.pathname = '/99';
    let exited: (code: unknown) => void = () => undefined;
    const exitCode = new Promise((resolve) => { exited = resolve; });
    const exit = jest.spyOn(process, 'exit').mockImplementation(((code: unknown) => exited(code)) as never);
    const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const r = open(url.toString(), { name: 'bad-db-exit', options: { retryStrategy: () => null } });
      expect(await exitCode).toBe(1);
      expect(write.mock.calls.map((c) => c[0])).toEqual([`invalid configuration: REDIS_URL="${url.toString()}": Redis refuses database 99 (ERR DB index is out of range)\n`]);
      r.disconnect();
    } finally {
      exit.mockRestore();
      write.mockRestore();
    }
  });
});
