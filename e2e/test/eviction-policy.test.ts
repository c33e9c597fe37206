import { afterAll, describe, expect, it } from '@jest/globals';
import { startApp, stopProc, type Proc } from '../src/procs.js';
import { startRedisServer, stopRedisServer, type RedisServer } from '../src/redis-servers.js';

/**
 * The MVP's runbook ran Redis with allkeys-lru, under which BullMQ loses jobs. The real API process
 * against a throwaway redis-server with that policy must say so at start-up and in /healthz.
 */
describe('Redis eviction policy check at API start-up', () => {
  const servers: RedisServer[] = [];
  const apis: Proc[] = [];
  afterAll(async () => {
    await Promise.allSettled(apis.map((p) => stopProc(p)));
    await Promise.allSettled(servers.map((s) => stopRedisServer(s)));
  });

  async function apiAgainst(policy: string): Promise<{ api: Proc; url: string }> {
    const redis = await startRedisServer(['--maxmemory-policy', policy], `redis-${policy}`);
    servers.push(redis);
    const api = startApp('api', { REDIS_URL: redis.url, KEY_PREFIX: 'evict:', PORT: '0', HOST: '127.0.0.1', GATEWAY_URL: 'http://127.0.0.1:9' }, `api-${policy}`);
    apis.push(api);
    const m = await api.waitFor(/api_listening port=(\d+)/);
    return { api, url: `http://127.0.0.1:${m[1]}` };
  }

  it('warns in the start-up log and in /healthz under allkeys-lru', async () => {
    const { api, url } = await apiAgainst('allkeys-lru');
    const line = await api.waitFor(/\[WARN\] redis_eviction_policy .*/);
    expect(line[0]).toMatch(/redis_eviction_policy policy=allkeys-lru expected=noeviction/);
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; warnings?: string[] };
    expect(body.status).toBe('ok');
    expect(body.warnings).toEqual([expect.stringContaining('maxmemory-policy is allkeys-lru')]);
  });

  it('stays quiet under noeviction', async () => {
    const { api, url } = await apiAgainst('noeviction');
    const body = (await (await fetch(`${url}/healthz`)).json()) as { warnings?: string[] };
    expect(body.warnings).toBeUndefined();
    expect(api.lines.some((l) => l.includes('redis_eviction_policy'))).toBe(false);
  });
});
