import { afterAll, describe, expect, it } from '@jest/globals';
import { startApp, type Proc } from '../src/procs.js';
import { startRedisServer, stopRedisServer, type RedisServer } from '../src/redis-servers.js';

/**
 * A worker told to stop while its Redis is gone cannot stop gracefully (closing the queues needs
 * Redis, and ioredis waits for it forever): it gives up after WORKER_STOP_TIMEOUT_MS and exits 1.
 */
describe('worker stop with Redis gone', () => {
  let redis: RedisServer | undefined;
  let worker: Proc | undefined;
  afterAll(async () => {
    worker?.child.kill('SIGKILL');
    await stopRedisServer(redis);
  });

  it('exits with code 1 and worker_stop_timeout once WORKER_STOP_TIMEOUT_MS has passed', async () => {
    redis = await startRedisServer([], 'stop');
    worker = startApp('worker', { REDIS_URL: redis.url, GATEWAY_URL: 'http://127.0.0.1:9', WORKER_STOP_TIMEOUT_MS: '2000', HOUSEKEEPING_EVERY_SEC: '3600' });
    await worker.waitFor(/worker_ready/);
    await stopRedisServer(redis);
    redis = undefined;
    await worker.waitFor(/Redis connection error|redis_down|worker_unhealthy/i);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(1);
    expect(worker.lines.join('\n')).toMatch(/worker_stopping signal=SIGTERM[\s\S]*worker_stop_timeout signal=SIGTERM after_ms=2000/);
    expect(worker.lines.join('\n')).not.toMatch(/worker_stopped/);
  });
});
