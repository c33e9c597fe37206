import { afterAll, describe, expect, it } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { connectRedis, evictionPolicy, redisMode, type RedisTopology } from '../src/topology.js';
import type { RedisClient } from '../src/scripts.js';
import { REDIS_URL } from './helpers.js';

const base: RedisTopology = { REDIS_URL, REDIS_CLUSTER_NODES: [], REDIS_SENTINELS: [], REDIS_SENTINEL_NAME: 'mymaster', REDIS_PASSWORD: '' };
const opened: RedisClient[] = [];
const open = (...args: Parameters<typeof connectRedis>) => {
  const c = connectRedis(...args);
  opened.push(c);
  return c;
};
afterAll(() => {
  for (const c of opened) c.disconnect();
});

describe('connectRedis: the deployment by configuration', () => {
  it('picks standalone, cluster or sentinel', () => {
    expect(redisMode(base)).toBe('standalone');
    expect(redisMode({ ...base, REDIS_CLUSTER_NODES: [{ host: '127.0.0.1', port: 1 }] })).toBe('cluster');
    expect(redisMode({ ...base, REDIS_SENTINELS: [{ host: '127.0.0.1', port: 1 }] })).toBe('sentinel');
  });

  it('builds a Cluster whose node connections carry the name, password and BullMQ retry setting', () => {
    // nothing listens on port 1: only the options are inspected, the client is closed right away
    const c = open({ ...base, REDIS_CLUSTER_NODES: [{ host: '127.0.0.1', port: 1 }], REDIS_PASSWORD: 'pw' }, { name: 'w bull', forBullmq: true, onError: () => {}, options: { disconnectTimeout: 10 } });
    expect(c).toBeInstanceOf(Cluster);
    expect((c as Cluster).options.redisOptions).toMatchObject({ connectionName: 'w-bull', maxRetriesPerRequest: null, password: 'pw' });
    expect((c as Cluster).options.enableOfflineQueue).toBe(true);
  });

  it('builds a sentinel client for the named master', () => {
    const r = open({ ...base, REDIS_SENTINELS: [{ host: '127.0.0.1', port: 1 }], REDIS_SENTINEL_NAME: 'supmaster' }, { name: 'api', onError: () => {}, options: { lazyConnect: true } });
    expect(r).toBeInstanceOf(Redis);
    expect((r as Redis).options).toMatchObject({ name: 'supmaster', sentinels: [{ host: '127.0.0.1', port: 1 }], maxRetriesPerRequest: 3, failoverDetector: true });
  });

  it('reads maxmemory-policy of a standalone Redis', async () => {
    const r = open(base, { name: 'policy' });
    const expected = ((await (r as Redis).config('GET', 'maxmemory-policy')) as string[])[1];
    expect(await evictionPolicy(r)).toBe(expected);
  });
});
